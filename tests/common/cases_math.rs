//! Builder-tier cases of the generated numeric ops.
//!
//! The runner draws float inputs from a standard normal, int8 / uint8 /
//! int16 inputs over their whole range, int32 / int64 inputs in `0..4` and
//! bools at random; divisors and shift amounts are constants.

use super::*;

/// A float input of `shape` through `f`.
fn f32_case(name: &str, shape: &[u32], f: impl FnOnce(&mut SubgraphBuilder, TensorId) -> Result<TensorId, ValidationError>) -> Case {
    one(name, shape, f)
}

/// Gives int8 / uint8 / int16 tensors the identity parameters (scale 1,
/// zero point 0): the builder's validation asks every op on those types for
/// quantization parameters, though the bitwise ops and integer FLOOR_DIV
/// work on the stored integers (with these parameters, real values and
/// stored integers agree).
fn identity_q(g: &mut SubgraphBuilder, t: TensorId, dtype: DType) {
    if matches!(dtype, DType::I8 | DType::U8 | DType::I16) {
        g.set_quantization(t, Quantization::per_tensor(1.0, 0));
    }
}

/// One input of `dtype` and `shape` through `f`.
fn typed(name: &str, dtype: DType, shape: &[u32], f: impl FnOnce(&mut SubgraphBuilder, TensorId) -> Result<TensorId, ValidationError>) -> Case {
    Case::new(name, model_of(|g| {
        let x = g.input("x", dtype, shape);
        identity_q(g, x, dtype);
        let y = f(g, x)?;
        identity_q(g, y, dtype);
        g.output("y", y);
        Ok(())
    }))
}

/// Two inputs of `dtype` through `f`.
fn typed2(
    name: &str,
    dtype: DType,
    a: &[u32],
    b: &[u32],
    f: impl FnOnce(&mut SubgraphBuilder, TensorId, TensorId) -> Result<TensorId, ValidationError>,
) -> Case {
    Case::new(name, model_of(|g| {
        let x = g.input("a", dtype, a);
        let y = g.input("b", dtype, b);
        identity_q(g, x, dtype);
        identity_q(g, y, dtype);
        let z = f(g, x, y)?;
        identity_q(g, z, dtype);
        g.output("z", z);
        Ok(())
    }))
}

/// A float input with a dynamic batch, resized to `batch` before running.
fn dynamic_batch(name: &str, rest: &[u32], batch: u32, f: impl FnOnce(&mut SubgraphBuilder, TensorId) -> Result<TensorId, ValidationError>) -> Case {
    let mut dims = vec![Dim::Dynamic];
    dims.extend(rest.iter().map(|d| Dim::Fixed(*d)));
    let mut c = Case::new(name, model_of(|g| {
        let x = g.input("x", DType::F32, Shape::from_dims(dims));
        let y = f(g, x)?;
        g.output("y", y);
        Ok(())
    }));
    let mut shape = vec![batch];
    shape.extend_from_slice(rest);
    c.resize = vec![("x".into(), shape)];
    c
}

fn scalar_i32(g: &mut SubgraphBuilder, name: &str, v: i32) -> TensorId {
    g.constant_i32(name, Shape::scalar(), &[v])
}

fn scalar_f32(g: &mut SubgraphBuilder, name: &str, v: f32) -> TensorId {
    g.constant_f32(name, Shape::scalar(), &[v])
}

/// The cases.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();

    // Roundings and activations.
    v.push(f32_case("floor/f32", &[3, 7], |g, x| g.floor(x)));
    v.push(dynamic_batch("floor/f32_dynamic_batch", &[4, 5], 3, |g, x| g.floor(x)));
    v.push(f32_case("ceil/f32", &[3, 7], |g, x| g.ceil(x)));
    v.push(f32_case("round/f32", &[3, 7], |g, x| {
        let k = g.constant_f32("k", [1], &[3.0]);
        let m = g.mul(x, k)?;
        g.round(m)
    }));
    // Exact halves: floor(4x) / 2, so ties to even show.
    v.push(f32_case("round/f32_ties", &[4, 8], |g, x| {
        let k = g.constant_f32("k", [1], &[4.0]);
        let m = g.mul(x, k)?;
        let f = g.floor(m)?;
        let h = g.constant_f32("half", [1], &[0.5]);
        let t = g.mul(f, h)?;
        g.round(t)
    }));
    v.push(f32_case("relu_n1_to1/f32", &[3, 7], |g, x| g.relu_n1_to1(x)));
    v.push(f32_case("relu0_to1/f32", &[3, 7], |g, x| g.relu0_to1(x)));
    v.push(f32_case("elu/f32", &[3, 7], |g, x| g.elu(x)));
    v.push(dynamic_batch("square/f32_dynamic_batch", &[6], 2, |g, x| g.square(x)));
    v.push(f32_case("sign/f32", &[3, 7], |g, x| {
        // Some exact zeros: relu then sign.
        let r = g.relu(x)?;
        let s = g.sub(r, x)?;
        let t = g.add(s, r)?;
        g.sign(t)
    }));
    v.push(typed("sign/i32", DType::I32, &[3, 5], |g, x| {
        let c = g.constant_i32("two", [1], &[2]);
        let s = g.sub(x, c)?;
        g.sign(s)
    }));
    v.push(f32_case("zeros_like/f32", &[2, 3, 4], |g, x| g.zeros_like(x)));
    v.push(typed("zeros_like/i32", DType::I32, &[2, 5], |g, x| g.zeros_like(x)));
    v.push(typed("zeros_like/i64", DType::I64, &[2, 5], |g, x| g.zeros_like(x)));

    // Int8 kernels (the runtime's integer arithmetic, within one step).
    v.push(one_i8("int8/elu", &[2, 33], (0.05, 0), Some((0.04, -100)), |g, x| g.elu(x)));
    v.push(one_i8("int8/l2_normalization", &[2, 3, 8], (0.05, 2), Some((1.0 / 128.0, 0)), |g, x| g.l2_normalization(x, L2NormOptions::default())));
    v.push(Case { quant_tol: 1, ..Case::new("int8/squared_difference", model_of(|g| {
        let a = in_i8(g, "a", &[2, 3, 4], 0.03, 1);
        let b = in_i8(g, "b", &[4], 0.02, -5);
        let y = g.squared_difference(a, b)?;
        g.set_quantization(y, Quantization::per_tensor(26.0 / 255.0, -128));
        g.output("y", y);
        Ok(())
    })) });
    // No SQUARE int32: LiteRT's SQUARE is float32 only ("Type INT32 is
    // unsupported by op Square").

    // FAKE_QUANT.
    {
        let mut o = FakeQuantOptions::default();
        o.min = -1.5;
        o.max = 2.0;
        o.num_bits = 8;
        v.push(f32_case("fake_quant/f32_8bit", &[4, 9], move |g, x| g.fake_quant(x, o)));
        let mut o = FakeQuantOptions::default();
        o.min = -0.7;
        o.max = 1.3;
        o.num_bits = 4;
        // LiteRT rejects narrow_range at prepare ("only meant for weights").
        v.push(f32_case("fake_quant/f32_4bit", &[4, 9], move |g, x| g.fake_quant(x, o)));
    }

    // Normalizations.
    v.push(f32_case("l2_normalization/f32", &[2, 3, 8], |g, x| g.l2_normalization(x, L2NormOptions::default())));
    {
        let mut o = LocalResponseNormalizationOptions::default();
        o.radius = 2;
        o.bias = 1.0;
        o.alpha = 0.5;
        o.beta = 0.75;
        v.push(Case { rtol: 1e-5, atol: 1e-5, ..f32_case("local_response_normalization/f32", &[1, 3, 3, 7], move |g, x| {
            g.local_response_normalization(x, o)
        }) });
        let mut o = LocalResponseNormalizationOptions::default();
        o.radius = 1;
        o.bias = 2.0;
        o.alpha = 1.0;
        o.beta = 1.0;
        v.push(f32_case("local_response_normalization/f32_beta1", &[1, 2, 2, 5], move |g, x| g.local_response_normalization(x, o)));
    }

    // BUCKETIZE.
    {
        let mut o = BucketizeOptions::default();
        o.boundaries = vec![-1.0, -0.5, 0.0, 0.5, 1.0];
        v.push(f32_case("bucketize/f32", &[3, 7], move |g, x| g.bucketize(x, o)));
        let mut oi = BucketizeOptions::default();
        oi.boundaries = vec![0.5, 1.0, 2.0, 2.5];
        v.push(typed("bucketize/i32", DType::I32, &[3, 7], move |g, x| g.bucketize(x, oi)));
    }

    // Binary arithmetic.
    v.push(typed2("squared_difference/f32", DType::F32, &[2, 3, 4], &[4], |g, a, b| g.squared_difference(a, b)));
    v.push(dynamic_batch("squared_difference/f32_dynamic_batch", &[5], 4, |g, x| {
        let c = g.constant_f32("c", [5], &[0.5, -1.0, 0.0, 2.0, -0.25]);
        g.squared_difference(x, c)
    }));
    v.push(typed2("squared_difference/i32", DType::I32, &[3, 4], &[1, 4], |g, a, b| g.squared_difference(a, b)));
    v.push(f32_case("floor_div/f32", &[3, 4], |g, x| {
        let d = g.constant_f32("d", [4], &[0.7, -0.7, 0.3, -2.5]);
        g.floor_div(x, d)
    }));
    v.push(typed("floor_div/i32", DType::I32, &[3, 4], |g, x| {
        // x - 2 in -2..=1, so negative numerators occur.
        let two = g.constant_i32("two", [1], &[2]);
        let a = g.sub(x, two)?;
        let d = g.constant_i32("d", [4], &[3, -3, 2, -1]);
        g.floor_div(a, d)
    }));
    v.push(typed("floor_div/i8", DType::I8, &[3, 4], |g, x| {
        let d = g.constant("d", DType::I8, [4], ConstData::from_slice(&[7i8, -7, 30, -3]));
        g.floor_div(x, d)
    }));
    v.push(typed2("atan2/f32", DType::F32, &[3, 5], &[3, 5], |g, a, b| g.atan2(a, b)));
    // LiteRT's ATAN2 does not broadcast (its prepare wants equal shapes).
    v.push(typed2("atan2/f32_rank3", DType::F32, &[2, 3, 4], &[2, 3, 4], |g, a, b| g.atan2(a, b)));

    // Bitwise.
    for (tag, dt) in [("i32", DType::I32), ("u8", DType::U8), ("i8", DType::I8), ("i16", DType::I16)] {
        v.push(typed2(&format!("bitwise_xor/{tag}"), dt, &[3, 4], &[4], |g, a, b| g.bitwise_xor(a, b)));
    }
    v.push(typed("right_shift/i32", DType::I32, &[3, 4], |g, x| {
        let k = g.constant_i32("k", [1], &[100]);
        let m = g.mul(x, k)?;
        let s = g.constant_i32("s", [4], &[0, 1, 3, 31]);
        g.right_shift(m, s)
    }));
    v.push(typed("right_shift/u8", DType::U8, &[3, 4], |g, x| {
        let s = g.constant("s", DType::U8, [4], ConstData::from_slice(&[0u8, 1, 4, 7]));
        g.right_shift(x, s)
    }));
    v.push(typed("right_shift/i8", DType::I8, &[3, 4], |g, x| {
        let s = g.constant("s", DType::I8, [4], ConstData::from_slice(&[0i8, 1, 3, 7]));
        g.right_shift(x, s)
    }));

    // ADD_N.
    v.push(Case::new("add_n/f32", model_of(|g| {
        let a = g.input("a", DType::F32, [2, 3, 4]);
        let b = g.input("b", DType::F32, [2, 3, 4]);
        let c = g.input("c", DType::F32, [2, 3, 4]);
        let y = g.add_n(&[Some(a), Some(b), Some(c)])?;
        g.output("y", y);
        Ok(())
    })));
    v.push(Case::new("add_n/i32", model_of(|g| {
        let a = g.input("a", DType::I32, [3, 4]);
        let b = g.input("b", DType::I32, [3, 4]);
        let y = g.add_n(&[Some(a), Some(b)])?;
        g.output("y", y);
        Ok(())
    })));

    // Bool reductions.
    for (tag, any) in [("reduce_any", true), ("reduce_all", false)] {
        let red = move |g: &mut SubgraphBuilder, x: TensorId, axes: &[i32], keep: bool| -> Result<TensorId, ValidationError> {
            let a = g.constant_i32("axes", [axes.len() as u32], axes);
            let mut o = ReducerOptions::default();
            o.keep_dims = keep;
            if any { g.reduce_any(x, a, o) } else { g.reduce_all(x, a, o) }
        };
        v.push(typed(&format!("{tag}/bool"), DType::Bool, &[3, 2, 4], move |g, x| red(g, x, &[1], false)));
        v.push(typed(&format!("{tag}/bool_keep_dims"), DType::Bool, &[2, 3, 2], move |g, x| red(g, x, &[0, -1], true)));
        // From a float comparison, so the evaluator tier covers it too.
        v.push(f32_case(&format!("{tag}/from_f32"), &[3, 4, 2], move |g, x| {
            let z = g.constant_f32("t", [1], &[-0.5]);
            let b = g.apply(Op::Greater, &[Some(x), Some(z)])?;
            red(g, b, &[1, 2], false)
        }));
    }

    // CUMSUM.
    for (tag, exclusive, reverse) in [("f32", false, false), ("f32_exclusive", true, false), ("f32_reverse", false, true), ("f32_exclusive_reverse", true, true)] {
        v.push(f32_case(&format!("cumsum/{tag}"), &[2, 5, 3], move |g, x| {
            let a = scalar_i32(g, "axis", 1);
            let mut o = CumsumOptions::default();
            o.exclusive = exclusive;
            o.reverse = reverse;
            g.cumsum(x, a, o)
        }));
    }
    v.push(f32_case("cumsum/f32_negative_axis", &[3, 6], |g, x| {
        let a = scalar_i32(g, "axis", -1);
        g.cumsum(x, a, CumsumOptions::default())
    }));
    v.push(typed("cumsum/i32", DType::I32, &[3, 6], |g, x| {
        let a = scalar_i32(g, "axis", 0);
        let mut o = CumsumOptions::default();
        o.reverse = true;
        g.cumsum(x, a, o)
    }));
    v.push(typed("cumsum/i64", DType::I64, &[3, 6], |g, x| {
        let a = scalar_i32(g, "axis", 1);
        let mut o = CumsumOptions::default();
        o.exclusive = true;
        g.cumsum(x, a, o)
    }));

    // Shapes.
    for (tag, dt) in [("i32", DType::I32), ("i64", DType::I64)] {
        v.push(f32_case(&format!("shape/{tag}"), &[2, 3, 5], move |g, x| {
            let mut o = ShapeOptions::default();
            o.out_type = dt;
            g.shape(x, o)
        }));
    }
    v.push(dynamic_batch("shape/i32_dynamic_batch", &[3, 2], 4, |g, x| {
        let mut o = ShapeOptions::default();
        o.out_type = DType::I32;
        g.shape(x, o)
    }));
    v.push(f32_case("rank/f32", &[2, 3, 5], |g, x| g.rank(x)));
    v.push(typed("rank/i32", DType::I32, &[4], |g, x| g.rank(x)));

    // FILL.
    v.push(f32_case("fill/f32", &[], |g, x| {
        let d = g.constant_i32("dims", [3], &[2, 3, 4]);
        g.fill(d, x)
    }));
    v.push(typed("fill/i32", DType::I32, &[], |g, x| {
        let d = g.constant_i32("dims", [2], &[3, 5]);
        g.fill(d, x)
    }));
    v.push(f32_case("fill/i64_dims_bool", &[], |g, x| {
        let z = g.constant_f32("z", Shape::scalar(), &[0.0]);
        let b = g.apply(Op::Greater, &[Some(x), Some(z)])?;
        let d = g.constant("dims", DType::I64, [2], ConstData::from_slice(&[2i64, 3]));
        g.fill(d, b)
    }));
    // FILL to the shape of a dynamic-batch input.
    v.push(dynamic_batch("fill/f32_dynamic_shape", &[3], 2, |g, x| {
        let mut o = ShapeOptions::default();
        o.out_type = DType::I32;
        let s = g.shape(x, o)?;
        let c = scalar_f32(g, "value", 1.25);
        let f = g.fill(s, c)?;
        g.add(f, x)
    }));

    // RANGE: constant scalars; the float range is added to an input so the
    // evaluator tier covers it.
    v.push(f32_case("range/f32", &[7], |g, x| {
        let s = scalar_f32(g, "start", -1.0);
        let l = scalar_f32(g, "limit", 1.0);
        let d = scalar_f32(g, "delta", 0.3);
        let r = g.range(&[Some(s), Some(l), Some(d)])?;
        g.add(r, x)
    }));
    v.push(Case::new("range/i32", model_of(|g| {
        let s = scalar_i32(g, "start", 10);
        let l = scalar_i32(g, "limit", -3);
        let d = scalar_i32(g, "delta", -4);
        let r = g.range(&[Some(s), Some(l), Some(d)])?;
        g.output("y", r);
        Ok(())
    })));
    v.push(typed("range/i32_input_limit", DType::I32, &[], |g, x| {
        // limit = x + 3 in 3..=6, so the output length depends on the input.
        let three = scalar_i32(g, "three", 3);
        let l = g.add(x, three)?;
        let s = scalar_i32(g, "start", 0);
        let d = scalar_i32(g, "delta", 2);
        g.range(&[Some(s), Some(l), Some(d)])
    }));

    // BROADCAST_ARGS.
    v.push(f32_case("broadcast_args/i32", &[3, 1, 5], |g, x| {
        let mut o = ShapeOptions::default();
        o.out_type = DType::I32;
        let s = g.shape(x, o)?;
        let t = g.constant_i32("t", [4], &[2, 1, 4, 1]);
        g.broadcast_args(s, t)
    }));
    v.push(Case::new("broadcast_args/i64", model_of(|g| {
        let a = g.constant("a", DType::I64, [2], ConstData::from_slice(&[4i64, 1]));
        let b = g.input("b", DType::I64, [3]);
        let one = g.constant("one", DType::I64, [1], ConstData::from_slice(&[1i64]));
        // b * 0 + 1: ones, which broadcast against anything.
        let zero = g.constant("zero", DType::I64, [1], ConstData::from_slice(&[0i64]));
        let bz = g.mul(b, zero)?;
        let b1 = g.add(bz, one)?;
        let y = g.broadcast_args(a, b1)?;
        g.output("y", y);
        Ok(())
    })));
    v
}


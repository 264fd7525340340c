//! Builder-tier cases of int8 and int16 kernels that the quantizer does
//! not reach (issue 8): ops TensorFlow's quantizer and ours leave in
//! float, ops on plain (unquantized) integers, and kernels whose operands
//! mix types. Each runs in LiteRT against the NumPy reference, which
//! dequantizes quantized tensors, computes in float and requantizes.
//!
//! The runner draws int8 and int16 inputs over their whole range, int32 in
//! `0..4` and random bools.

use super::*;

type B<'a> = &'a mut SubgraphBuilder;
type R = Result<TensorId, ValidationError>;

/// A quantized (per-tensor) input.
fn q_input(g: B, name: &str, dtype: DType, shape: &[u32], scale: f32, zp: i64) -> TensorId {
    let x = g.input(name, dtype, shape);
    g.set_quantization(x, Quantization::per_tensor(scale, zp));
    x
}

/// A quantized constant of raw integers `raw`.
fn q_const(g: B, name: &str, dtype: DType, shape: &[u32], raw: &[i64], scale: f32, zp: i64) -> TensorId {
    let data = match dtype {
        DType::I8 => ConstData::from_slice(&raw.iter().map(|v| *v as i8).collect::<Vec<_>>()),
        _ => ConstData::from_slice(&raw.iter().map(|v| *v as i16).collect::<Vec<_>>()),
    };
    let c = g.constant(name, dtype, shape, data);
    g.set_quantization(c, Quantization::per_tensor(scale, zp));
    c
}

/// One input through `f`, one output; exact (`quant_tol` 0) unless set.
fn case(name: &str, tol: i64, f: impl FnOnce(B) -> R) -> Case {
    Case { quant_tol: tol, ..Case::new(name, model_of(|g| {
        let y = f(g)?;
        g.output("y", y);
        Ok(())
    })) }
}

/// An op with an explicit output (ops without inference).
fn explicit(g: B, op: Op, inputs: &[TensorId], dtype: DType, shape: &[u32], q: Option<Quantization>) -> R {
    let mut t = Tensor::new("y", dtype, shape);
    t.quantization = q;
    let out = g.add_tensor(t);
    g.add_operator(Operator::new(op, inputs, &[out]))?;
    Ok(out)
}

/// The cases.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // NEG negates the stored integers, so the input has zero point 0 and
    // the output its parameters. The lowest integer (−128, −32768) wraps
    // to itself, so a MAXIMUM with the next one keeps it from NEG.
    for (name, dtype, scale, low) in [("int8/neg", DType::I8, 0.05f32, -127i64), ("int16/neg", DType::I16, 0.001, -32767)] {
        v.push(case(name, 0, |g| {
            let x = q_input(g, "x", dtype, &[3, 7], scale, 0);
            let lo = q_const(g, "low", dtype, &[1], &[low], scale, 0);
            let m = g.maximum(x, lo)?;
            g.neg(m)
        }));
    }
    // SQRT and RSQRT in int16 (the qbuilder tier's symmetric int16 inputs
    // would leave their domain): inputs kept ≥ one step by a MAXIMUM.
    // (LiteRT's int16 lookup tables interpolate 513 points over the input
    // range, so the inputs stay ≥ 1, away from the steep part near 0.)
    for (name, rsqrt) in [("int16/sqrt", false), ("int16/rsqrt", true)] {
        v.push(case(name, 64, |g| {
            let s = 8.0 / 32767.0;
            let x = q_input(g, "x", DType::I16, &[2, 33], s, 0);
            let one = q_const(g, "one", DType::I16, &[1], &[4096], s, 0);
            let m = g.maximum(x, one)?;
            let y = if rsqrt { g.rsqrt(m)? } else { g.sqrt(m)? };
            // sqrt(8) ≈ 2.83; 1/sqrt(1) = 1.
            g.set_quantization(y, Quantization::per_tensor(if rsqrt { 1.0 / 32767.0 } else { 2.9 / 32767.0 }, 0));
            Ok(y)
        }));
    }
    // EMBEDDING_LOOKUP of a quantized table: into float (the hybrid
    // kernel, symmetric table), or rows copied in the table's own type.
    v.push(Case { rtol: 1e-6, atol: 1e-6, ..case("int8/embedding_lookup/float_out", 1, |g| {
        let ids = g.input("ids", DType::I32, [4]);
        let rows: Vec<i64> = (0..15).map(|i| i * 17 % 255 - 127).collect();
        let t = q_const(g, "table", DType::I8, &[5, 3], &rows, 0.02, 0);
        g.embedding_lookup(ids, t)
    }) });
    for (name, dtype, scale, zp) in [("int8/embedding_lookup/int8_out", DType::I8, 0.05f32, -3i64), ("int16/embedding_lookup", DType::I16, 0.001, 0)] {
        v.push(case(name, 0, |g| {
            let t = q_input(g, "table", dtype, &[5, 3], scale, zp);
            let ids = g.constant_i32("ids", [4], &[2, 0, 4, 2]);
            g.apply_with(Op::EmbeddingLookup, &[Some(ids), Some(t)], Some(dtype), Some(Quantization::per_tensor(scale, zp)))
        }));
    }
    // DIV of quantized tensors (the quantizer leaves DIV in float: the
    // kernel refuses divisors whose integer is the zero point). The
    // divisor is a constant away from zero.
    for (name, dtype, xs, ds, os, tol) in [
        ("int8/div", DType::I8, 0.05f32, 2.0f32 / 127.0, 0.8f32 / 127.0 * 16.0, 2i64),
        ("int16/div", DType::I16, 0.0002, 2.0 / 32767.0, 14.0 / 32767.0, 64),
    ] {
        let mut c = case(name, tol, |g| {
            let x = q_input(g, "x", dtype, &[3, 4], xs, 0);
            // Divisors 0.5, -1, 1.25, 2 (sign too).
            let raw: Vec<i64> = [0.5f32, -1.0, 1.25, 2.0].iter().map(|d| (d / ds).round() as i64).collect();
            let d = q_const(g, "d", dtype, &[4], &raw, ds, 0);
            let y = g.apply(Op::Div(Activation::None), &[Some(x), Some(d)])?;
            g.set_quantization(y, Quantization::per_tensor(os, 0));
            Ok(y)
        });
        // Found by the dynamic-batch tier, then swept over every int8
        // dividend: LiteRT's quantized DIV returns the type's minimum
        // (-128) where the result is about 0 and the dividend, sign-flipped
        // with a negative divisor, is one step below the zero point
        // (reference/div.h: CountLeadingSignBits(-1) is 31, and the shift
        // overflows). The inputs drawn for this case have none; fresh ones
        // at twice the batch do. Our quantizer keeps DIV in float.
        c.no_wider_batch = Some("LiteRT's quantized DIV gives the minimum for a dividend of -1 step (reference/div.h)");
        v.push(c);
    }
    // PRELU in int16 takes int8 alphas.
    v.push(case("int16/prelu", 2, |g| {
        let x = q_input(g, "x", DType::I16, &[1, 4, 4, 3], 0.0005, 0);
        let a = q_const(g, "alpha", DType::I8, &[3], &[64, -100, 127], 0.5 / 127.0, 0);
        let y = g.prelu(x, a)?;
        g.set_quantization(y, Quantization::per_tensor(0.0004, 0));
        Ok(y)
    }));
    // QUANTIZE from int16 (requantize into int8).
    v.push(case("int16/requantize_to_int8", 1, |g| {
        let x = q_input(g, "x", DType::I16, &[3, 7], 0.0005, 0);
        g.quantize(x, DType::I8, Quantization::per_tensor(0.1, 3))
    }));
    // TOPK_V2 of quantized values (the values keep the input's parameters).
    for (name, dtype, scale, zp) in [("int8/topk_v2", DType::I8, 0.05f32, -3i64), ("int16/topk_v2", DType::I16, 0.001, 0)] {
        v.push(Case { quant_tol: 0, ..Case::new(name, model_of(|g| {
            let x = q_input(g, "x", dtype, &[3, 7], scale, zp);
            let k = g.constant_i32("k", Shape::scalar(), &[3]);
            let ys = g.topk_v2(x, k)?;
            g.output("values", ys[0]);
            g.output("indices", ys[1]);
            Ok(())
        })) });
    }
    // REDUCE_PROD of quantized values (reduce.cc, EvalQuantizedProd).
    for (name, dtype, zp, out_scale) in [("int8/reduce_prod", DType::I8, 0i64, 17.0f32 / 127.0), ("int16/reduce_prod", DType::I16, 0, 17.0 / 32767.0)] {
        v.push(case(name, if dtype == DType::I8 { 2 } else { 64 }, |g| {
            let scale = if dtype == DType::I8 { 2.5 / 127.0 } else { 2.5 / 32767.0 };
            let x = q_input(g, "x", dtype, &[4, 3], scale, zp);
            let axes = g.constant_i32("axes", [1], &[1]);
            let y = g.apply(Op::ReduceProd { keep_dims: false }, &[Some(x), Some(axes)])?;
            g.set_quantization(y, Quantization::per_tensor(out_scale, 0));
            Ok(y)
        }));
    }
    // FILL with a quantized scalar (output parameters = the value's;
    // int16 with zero point 0, fill.cc).
    for (name, dtype, zp) in [("int8/fill", DType::I8, 5i64), ("int16/fill", DType::I16, 0)] {
        v.push(case(name, 0, |g| {
            let x = q_input(g, "x", dtype, &[], 0.02, zp);
            let d = g.constant_i32("dims", [2], &[3, 4]);
            g.fill(d, x)
        }));
    }
    // Data movement of quantized values (outputs keep the parameters).
    for (tag, dtype, scale, zp) in [("int8", DType::I8, 0.05f32, -3i64), ("int16", DType::I16, 0.001, 0)] {
        let q = Some(Quantization::per_tensor(scale, zp));
        v.push(Case { quant_tol: 0, ..Case::new(format!("{tag}/dynamic_update_slice"), model_of(|g| {
            let x = q_input(g, "x", dtype, &[4, 5], scale, zp);
            let u = q_input(g, "u", dtype, &[2, 3], scale, zp);
            let st = g.constant_i32("start", [2], &[3, 1]);
            let y = explicit(g, Op::DynamicUpdateSlice, &[x, u, st], dtype, &[4, 5], q.clone())?;
            g.output("y", y);
            Ok(())
        })) });
        v.push(case(&format!("{tag}/dilate"), 0, |g| {
            let x = q_input(g, "x", dtype, &[3, 2], scale, zp);
            let d = g.constant_i32("d", [2], &[3, 2]);
            let p = q_const(g, "p", dtype, &[], &[7], scale, zp);
            explicit(g, Op::Dilate, &[x, d, p], dtype, &[7, 3], q.clone())
        }));
        v.push(Case { quant_tol: 0, ..Case::new(format!("{tag}/unique"), model_of(|g| {
            let x = q_input(g, "x", dtype, &[9], scale, zp);
            let mut o = UniqueOptions::default();
            o.idx_out_type = DType::I32;
            let ys = g.unique(x, o)?;
            g.output("y0", ys[0]);
            g.output("y1", ys[1]);
            Ok(())
        })) });
    }
    // SHAPE and RANK read only the dimensions.
    for (tag, dtype) in [("int8", DType::I8), ("int16", DType::I16)] {
        v.push(case(&format!("{tag}/shape"), 0, |g| {
            let x = q_input(g, "x", dtype, &[2, 3, 5], 0.01, 0);
            let mut o = ShapeOptions::default();
            o.out_type = DType::I32;
            g.shape(x, o)
        }));
        v.push(case(&format!("{tag}/rank"), 0, |g| {
            let x = q_input(g, "x", dtype, &[2, 3, 5], 0.01, 0);
            g.rank(x)
        }));
    }
    // WHERE of an int8 condition (nonzero integers; zero point 0, so the
    // integer and its value are zero together).
    v.push(case("int8/where", 0, |g| {
        let x = q_input(g, "x", DType::I8, &[2, 3, 2], 0.05, 0);
        g.where_true(x)
    }));
    // Plain integers.
    v.push(case("cast/i8_to_i32", 0, |g| {
        let x = g.input("x", DType::I8, [3, 5]);
        g.cast(x, DType::I32)
    }));
    v.push(case("cast/i16_to_f32", 0, |g| {
        let x = g.input("x", DType::I16, [3, 5]);
        g.cast(x, DType::F32)
    }));
    v.push(case("floor_div/i16", 0, |g| {
        let x = g.input("x", DType::I16, [3, 4]);
        let d = g.constant("d", DType::I16, [4], ConstData::from_slice(&[7i16, -7, 300, -3]));
        g.floor_div(x, d)
    }));
    v.push(case("right_shift/i16", 0, |g| {
        let x = g.input("x", DType::I16, [3, 4]);
        let s = g.constant("s", DType::I16, [4], ConstData::from_slice(&[0i16, 1, 5, 15]));
        g.right_shift(x, s)
    }));
    v.push(case("int16/reverse_sequence", 0, |g| {
        let x = q_input(g, "x", DType::I16, &[3, 4], 0.001, 0);
        let l = g.constant_i32("seq_lengths", [3], &[4, 0, 2]);
        let mut o = ReverseSequenceOptions::default();
        o.seq_dim = 1;
        o.batch_dim = 0;
        g.reverse_sequence(x, l, o)
    }));
    v.push(case("bitcast/i16_to_u8", 0, |g| {
        let x = g.input("x", DType::I16, [2, 3]);
        explicit(g, Op::Bitcast, &[x], DType::U8, &[2, 3, 2], None)
    }));
    v.push(case("scatter_nd/i8", 0, |g| {
        let u = g.input("updates", DType::I8, [3, 2]);
        let i = g.constant_i32("indices", [3, 1], &[3, 0, 2]);
        let s = g.constant_i32("shape", [2], &[5, 2]);
        g.scatter_nd(&[Some(i), Some(u), Some(s)])
    }));
    v.push(case("sparse_to_dense/i8", 0, |g| {
        let vals = g.input("values", DType::I8, [3]);
        let i = g.constant_i32("indices", [3, 2], &[0, 1, 2, 3, 1, 0]);
        let s = g.constant_i32("output_shape", [2], &[3, 4]);
        let d = g.constant("default", DType::I8, Shape::scalar(), ConstData::from_slice(&[-9i8]));
        explicit(g, Op::SparseToDense(SparseToDenseOptions::default()), &[i, s, vals, d], DType::I8, &[3, 4], None)
    }));
    for (tag, dtype) in [("i8", DType::I8), ("i16", DType::I16)] {
        for (op, name) in [(Op::Select, "select"), (Op::SelectV2, "select_v2")] {
            v.push(case(&format!("{name}/{tag}"), 0, |g| {
                let c = g.input("c", DType::Bool, [2, 3]);
                let x = g.input("x", dtype, [2, 3]);
                let y = g.input("y", dtype, [2, 3]);
                g.apply(op, &[Some(c), Some(x), Some(y)])
            }));
        }
    }
    // Quantized data operands that are not operand 0: the output takes
    // their parameters by default (SELECT's x, SCATTER_ND's updates,
    // ONE_HOT's on value), and a DEQUANTIZE reads them back to float.
    for (tag, dtype, scale, zp) in [("int8", DType::I8, 0.05f32, -3i64), ("int16", DType::I16, 0.001, 0)] {
        for (op, name) in [(Op::Select, "select"), (Op::SelectV2, "select_v2")] {
            v.push(case(&format!("{tag}/{name}_quantized"), 0, |g| {
                let c = g.input("c", DType::Bool, [2, 3]);
                let x = q_input(g, "x", dtype, &[2, 3], scale, zp);
                let y = q_input(g, "y", dtype, &[2, 3], scale, zp);
                let s = g.apply(op, &[Some(c), Some(x), Some(y)])?;
                g.dequantize(s)
            }));
        }
    }
    v.push(case("int8/scatter_nd_quantized", 0, |g| {
        // Zero point 0: the kernel fills the output with the integer 0.
        let u = q_input(g, "updates", DType::I8, &[3, 2], 0.05, 0);
        let i = g.constant_i32("indices", [3, 1], &[3, 0, 2]);
        let s = g.constant_i32("shape", [2], &[5, 2]);
        let y = g.scatter_nd(&[Some(i), Some(u), Some(s)])?;
        g.dequantize(y)
    }));
    v.push(case("int8/one_hot_quantized", 0, |g| {
        let i = g.input("indices", DType::I32, [3, 2]);
        let depth = g.constant_i32("depth", [], &[4]);
        let on = q_const(g, "on", DType::I8, &[], &[100], 0.02, -5);
        let off = q_const(g, "off", DType::I8, &[], &[-100], 0.02, -5);
        let y = g.one_hot(&[Some(i), Some(depth), Some(on), Some(off)], OneHotOptions::default())?;
        g.dequantize(y)
    }));
    v
}

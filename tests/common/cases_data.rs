//! Builder-tier cases of the generated data-movement ops.
//!
//! Data inputs are graph inputs (the runner draws floats from a standard
//! normal, int8 over its whole range, int32 in `0..4`); indices, axes and
//! shapes are constants, so they are valid. Conditions are computed from
//! float inputs (`GREATER`), so most cases also fit the evaluator tier.

use super::*;

type B<'a> = &'a mut SubgraphBuilder;
type R = Result<TensorId, ValidationError>;

/// A float input of `shape` through `f`.
fn f32_case(name: &str, shape: &[u32], f: impl FnOnce(B, TensorId) -> R) -> Case {
    Case::new(name, model_of(|g| {
        let x = g.input("x", DType::F32, shape);
        let y = f(g, x)?;
        g.output("y", y);
        Ok(())
    }))
}

/// Two float inputs through `f`.
fn f32_case2(name: &str, a: &[u32], b: &[u32], f: impl FnOnce(B, TensorId, TensorId) -> R) -> Case {
    Case::new(name, model_of(|g| {
        let x = g.input("a", DType::F32, a);
        let y = g.input("b", DType::F32, b);
        let z = f(g, x, y)?;
        g.output("z", z);
        Ok(())
    }))
}

/// A float input through `f`, with several outputs.
fn f32_multi(name: &str, shape: &[u32], f: impl FnOnce(B, TensorId) -> Result<Vec<TensorId>, ValidationError>) -> Case {
    Case::new(name, model_of(|g| {
        let x = g.input("x", DType::F32, shape);
        let ys = f(g, x)?;
        for (i, y) in ys.into_iter().enumerate() {
            g.output(&format!("y{i}"), y);
        }
        Ok(())
    }))
}

/// The parameters of the int8 cases (outputs keep the input's).
fn q8() -> Quantization {
    Quantization::per_tensor(0.05, 3)
}

/// An input of `dtype` (int8 ones quantized with [`q8`]) through `f`.
fn typed(name: &str, dtype: DType, shape: &[u32], f: impl FnOnce(B, TensorId) -> R) -> Case {
    Case::new(name, model_of(|g| {
        let x = g.input("x", dtype, shape);
        if dtype == DType::I8 {
            g.set_quantization(x, q8());
        }
        let y = f(g, x)?;
        if dtype == DType::I8 {
            g.set_quantization(y, q8());
        }
        g.output("y", y);
        Ok(())
    }))
}

/// An operator with an explicit output of `dtype` and `shape` (for ops
/// without shape inference).
fn explicit(g: B, op: Op, inputs: &[TensorId], name: &str, dtype: DType, shape: &[u32]) -> R {
    let out = g.add_tensor(Tensor::new(name, dtype, shape));
    g.add_operator(Operator::new(op, inputs, &[out]))?;
    Ok(out)
}

fn scalar_i32(g: B, name: &str, v: i32) -> TensorId {
    g.constant_i32(name, Shape::scalar(), &[v])
}

/// An unsorted segment op over ids 0..3 into `num` segments (segments from
/// 3 on stay empty: keep them to SUM, whose identity is 0, so the evaluator
/// tier's tolerance, relative to the largest output, stays meaningful).
fn unsorted(name: &str, op: Op, num: i32) -> Case {
    f32_case(name, &[6, 3], |g, x| {
        let ids = g.constant_i32("ids", [6], &[2, 0, 2, 1, 0, 2]);
        let n = scalar_i32(g, "num_segments", num);
        g.apply(op, &[Some(x), Some(ids), Some(n)])
    })
}

/// The cases.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();

    // Layout.
    v.push(f32_case("expand_dims/f32", &[2, 3], |g, x| {
        let a = scalar_i32(g, "axis", -2);
        g.expand_dims(x, a)
    }));
    v.push(typed("expand_dims/i8", DType::I8, &[2, 3], |g, x| {
        let a = scalar_i32(g, "axis", 0);
        g.expand_dims(x, a)
    }));
    v.push(f32_case("tile/f32", &[2, 3], |g, x| {
        let m = g.constant_i32("multiples", [2], &[2, 3]);
        g.tile(x, m)
    }));
    v.push(typed("tile/i32", DType::I32, &[2, 1, 3], |g, x| {
        let m = g.constant_i32("multiples", [3], &[1, 4, 2]);
        g.tile(x, m)
    }));
    v.push(Case::new("pack/f32", model_of(|g| {
        let xs: Vec<TensorId> = (0..3).map(|i| g.input(&format!("x{i}"), DType::F32, [2, 3])).collect();
        let ins: Vec<Option<TensorId>> = xs.iter().map(|x| Some(*x)).collect();
        let mut o = PackOptions::default();
        o.values_count = 3;
        o.axis = 1;
        let y = g.pack(&ins, o)?;
        g.output("y", y);
        Ok(())
    })));
    v.push(Case::new("pack/i8", model_of(|g| {
        let xs: Vec<TensorId> = (0..2)
            .map(|i| {
                let x = g.input(&format!("x{i}"), DType::I8, [3, 2]);
                g.set_quantization(x, q8());
                x
            })
            .collect();
        let mut o = PackOptions::default();
        o.values_count = 2;
        o.axis = -1;
        let y = g.pack(&[Some(xs[0]), Some(xs[1])], o)?;
        g.set_quantization(y, q8());
        g.output("y", y);
        Ok(())
    })));
    v.push(f32_multi("unpack/f32", &[2, 3, 4], |g, x| {
        let mut o = UnpackOptions::default();
        o.num = 3;
        o.axis = 1;
        g.unpack(x, o)
    }));
    v.push(f32_multi("split/f32", &[2, 6, 3], |g, x| {
        let a = scalar_i32(g, "axis", 1);
        let mut o = SplitOptions::default();
        o.num_splits = 3;
        g.split(a, x, o)
    }));
    v.push(Case::new("split/i32", model_of(|g| {
        let x = g.input("x", DType::I32, [4, 2]);
        let a = scalar_i32(g, "axis", -2);
        let mut o = SplitOptions::default();
        o.num_splits = 2;
        let ys = g.split(a, x, o)?;
        g.output("y0", ys[0]);
        g.output("y1", ys[1]);
        Ok(())
    })));
    v.push(f32_case("depth_to_space/f32", &[1, 2, 3, 8], |g, x| {
        let mut o = DepthToSpaceOptions::default();
        o.block_size = 2;
        g.depth_to_space(x, o)
    }));
    v.push(typed("depth_to_space/i8", DType::I8, &[2, 2, 2, 4], |g, x| {
        let mut o = DepthToSpaceOptions::default();
        o.block_size = 2;
        g.depth_to_space(x, o)
    }));
    v.push(f32_case("space_to_depth/f32", &[1, 4, 6, 3], |g, x| {
        let mut o = SpaceToDepthOptions::default();
        o.block_size = 2;
        g.space_to_depth(x, o)
    }));
    v.push(f32_case("reverse_v2/f32", &[2, 3, 4], |g, x| {
        let a = g.constant_i32("axes", [1], &[1]);
        g.reverse_v2(x, a)
    }));
    // LiteRT reverses several axes only when they are contiguous.
    v.push(f32_case("reverse_v2/f32_two_axes", &[2, 3, 4], |g, x| {
        let a = g.constant_i32("axes", [2], &[-1, 1]);
        g.reverse_v2(x, a)
    }));
    v.push(typed("reverse_v2/i32", DType::I32, &[3, 5], |g, x| {
        let a = g.constant_i32("axes", [1], &[1]);
        g.reverse_v2(x, a)
    }));
    {
        let mut c = Case::new("reverse_v2/f32_dynamic_batch", model_of(|g| {
            let x = g.input("x", DType::F32, Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(3), Dim::Fixed(4)]));
            let a = g.constant_i32("axes", [1], &[2]);
            let y = g.reverse_v2(x, a)?;
            g.output("y", y);
            Ok(())
        }));
        c.resize = vec![("x".into(), vec![3, 3, 4])];
        v.push(c);
    }
    v.push(f32_case("space_to_batch_nd/f32", &[2, 4, 5, 3], |g, x| {
        let b = g.constant_i32("block_shape", [2], &[2, 2]);
        let p = g.constant_i32("paddings", [2, 2], &[0, 0, 1, 0]);
        g.space_to_batch_nd(&[Some(x), Some(b), Some(p)])
    }));
    v.push(typed("space_to_batch_nd/i8", DType::I8, &[1, 3, 4, 2], |g, x| {
        let b = g.constant_i32("block_shape", [2], &[2, 2]);
        let p = g.constant_i32("paddings", [2, 2], &[1, 0, 1, 1]);
        g.space_to_batch_nd(&[Some(x), Some(b), Some(p)])
    }));
    v.push(f32_case("batch_to_space_nd/f32", &[8, 2, 3, 3], |g, x| {
        let b = g.constant_i32("block_shape", [2], &[2, 2]);
        let c = g.constant_i32("crops", [2, 2], &[0, 1, 1, 0]);
        g.batch_to_space_nd(&[Some(x), Some(b), Some(c)])
    }));
    v.push(f32_case("matrix_diag/f32", &[2, 4], |g, x| explicit(g, Op::MatrixDiag, &[x], "y", DType::F32, &[2, 4, 4])));
    v.push(f32_case2("matrix_set_diag/f32", &[2, 3, 4], &[2, 3], |g, x, d| {
        explicit(g, Op::MatrixSetDiag, &[x, d], "z", DType::F32, &[2, 3, 4])
    }));
    v.push(f32_case("reverse_sequence/f32", &[3, 5, 2], |g, x| {
        let l = g.constant_i32("seq_lengths", [3], &[2, 5, 1]);
        let mut o = ReverseSequenceOptions::default();
        o.seq_dim = 1;
        o.batch_dim = 0;
        explicit(g, Op::ReverseSequence(o), &[x, l], "y", DType::F32, &[3, 5, 2])
    }));
    v.push(f32_case("reverse_sequence/f32_batch_last", &[4, 3], |g, x| {
        let l = g.constant_i32("seq_lengths", [3], &[3, 0, 4]);
        let mut o = ReverseSequenceOptions::default();
        o.seq_dim = 0;
        o.batch_dim = 1;
        explicit(g, Op::ReverseSequence(o), &[x, l], "y", DType::F32, &[4, 3])
    }));
    v.push(f32_case2("select/f32", &[2, 3], &[2, 3], |g, x, y| {
        let c = g.apply(Op::Greater, &[Some(x), Some(y)])?;
        let s = g.sub(x, y)?;
        g.select(&[Some(c), Some(s), Some(y)])
    }));
    v.push(f32_case2("select/f32_rows", &[4, 3], &[4], |g, x, r| {
        let zero = g.constant_f32("zero", [1], &[0.0]);
        let c = g.apply(Op::Greater, &[Some(r), Some(zero)])?;
        let n = g.neg(x)?;
        g.select(&[Some(c), Some(x), Some(n)])
    }));

    // Gathers and scatters.
    v.push(f32_case("embedding_lookup/f32", &[5, 3], |g, t| {
        let ids = g.constant_i32("ids", [4], &[2, 0, 4, 2]);
        g.embedding_lookup(ids, t)
    }));
    v.push(f32_case("gather_nd/f32", &[3, 4, 2], |g, x| {
        let i = g.constant_i32("indices", [2, 2, 2], &[0, 1, 2, 3, 1, 0, 2, 2]);
        g.gather_nd(x, i)
    }));
    v.push(f32_case("gather_nd/f32_full", &[3, 4], |g, x| {
        let i = g.constant_i32("indices", [3, 2], &[2, 3, 0, 0, 1, 2]);
        g.gather_nd(x, i)
    }));
    v.push(typed("gather_nd/i8", DType::I8, &[4, 3], |g, x| {
        let i = g.constant_i32("indices", [2, 1], &[3, 1]);
        g.gather_nd(x, i)
    }));
    v.push(f32_case("scatter_nd/f32", &[4, 3], |g, u| {
        // Index 1 twice: the updates add up.
        let i = g.constant_i32("indices", [4, 1], &[1, 3, 1, 0]);
        let s = g.constant_i32("shape", [2], &[5, 3]);
        g.scatter_nd(&[Some(i), Some(u), Some(s)])
    }));
    v.push(f32_case("one_hot/f32", &[], |g, on| {
        // -1 and 4 are out of range: all off.
        let i = g.constant_i32("indices", [2, 3], &[0, 3, -1, 2, 4, 1]);
        let d = scalar_i32(g, "depth", 4);
        let off = g.constant_f32("off", Shape::scalar(), &[-0.5]);
        g.one_hot(&[Some(i), Some(d), Some(on), Some(off)], OneHotOptions::default())
    }));
    v.push(f32_case("one_hot/f32_axis0", &[], |g, on| {
        let i = g.constant_i32("indices", [3], &[1, 0, 2]);
        let d = scalar_i32(g, "depth", 3);
        let off = g.constant_f32("off", Shape::scalar(), &[0.25]);
        let mut o = OneHotOptions::default();
        o.axis = 0;
        g.one_hot(&[Some(i), Some(d), Some(on), Some(off)], o)
    }));
    v.push(Case::new("one_hot/i32_indices", model_of(|g| {
        // Indices in 0..4 with depth 3: the 3s are off everywhere.
        let i = g.input("indices", DType::I32, [2, 5]);
        let d = scalar_i32(g, "depth", 3);
        let on = g.constant_i32("on", Shape::scalar(), &[7]);
        let off = g.constant_i32("off", Shape::scalar(), &[-1]);
        let y = g.one_hot(&[Some(i), Some(d), Some(on), Some(off)], OneHotOptions::default())?;
        g.output("y", y);
        Ok(())
    })));
    v.push(f32_multi("topk_v2/f32", &[3, 7], |g, x| {
        let k = scalar_i32(g, "k", 3);
        g.topk_v2(x, k)
    }));
    v.push(Case::new("topk_v2/i32_ties", model_of(|g| {
        // Values in 0..4: many ties, which keep the lower index first.
        let x = g.input("x", DType::I32, [2, 9]);
        let k = scalar_i32(g, "k", 4);
        let ys = g.topk_v2(x, k)?;
        g.output("values", ys[0]);
        g.output("indices", ys[1]);
        Ok(())
    })));

    // Segments.
    v.push(f32_case("segment_sum/f32", &[6, 3], |g, x| {
        // LiteRT wants ids from 0 that step by 0 or 1 (no empty segment).
        let ids = g.constant_i32("ids", [6], &[0, 0, 1, 2, 2, 2]);
        explicit(g, Op::SegmentSum, &[x, ids], "y", DType::F32, &[3, 3])
    }));
    v.push(typed("segment_sum/i32", DType::I32, &[5, 2], |g, x| {
        let ids = g.constant_i32("ids", [5], &[0, 1, 1, 1, 2]);
        explicit(g, Op::SegmentSum, &[x, ids], "y", DType::I32, &[3, 2])
    }));
    v.push(unsorted("unsorted_segment_sum/f32", Op::UnsortedSegmentSum, 4));
    v.push(unsorted("unsorted_segment_prod/f32", Op::UnsortedSegmentProd, 3));
    v.push(unsorted("unsorted_segment_max/f32", Op::UnsortedSegmentMax, 3));
    v.push(unsorted("unsorted_segment_min/f32", Op::UnsortedSegmentMin, 3));
    v.push(typed("unsorted_segment_max/i32", DType::I32, &[5, 2], |g, x| {
        // Segment 1 stays empty: the lowest int32.
        let ids = g.constant_i32("ids", [5], &[0, 2, 2, 0, 3]);
        let n = scalar_i32(g, "num_segments", 4);
        g.unsorted_segment_max(&[Some(x), Some(ids), Some(n)])
    }));
    v.push(f32_case("unsorted_segment_sum/f32_2d_ids", &[2, 3, 2], |g, x| {
        let ids = g.constant_i32("ids", [2, 3], &[1, 0, 1, 2, 0, 0]);
        let n = scalar_i32(g, "num_segments", 3);
        g.unsorted_segment_sum(&[Some(x), Some(ids), Some(n)])
    }));

    // Updates and sparse.
    v.push(f32_case2("dynamic_update_slice/f32", &[4, 5], &[2, 3], |g, x, u| {
        // Start row 3 is clamped to 2 so the update fits.
        let s = g.constant_i32("start", [2], &[3, 1]);
        explicit(g, Op::DynamicUpdateSlice, &[x, u, s], "z", DType::F32, &[4, 5])
    }));
    v.push(f32_case("sparse_to_dense/f32", &[3], |g, vals| {
        let i = g.constant_i32("indices", [3, 2], &[0, 1, 2, 3, 1, 0]);
        let s = g.constant_i32("output_shape", [2], &[3, 4]);
        let d = g.constant_f32("default", Shape::scalar(), &[0.5]);
        explicit(g, Op::SparseToDense(SparseToDenseOptions::default()), &[i, s, vals, d], "y", DType::F32, &[3, 4])
    }));
    v.push(f32_case("sparse_to_dense/f32_1d_scalar_value", &[], |g, val| {
        let i = g.constant_i32("indices", [3], &[4, 0, 2]);
        let s = g.constant_i32("output_shape", [1], &[6]);
        let d = g.constant_f32("default", Shape::scalar(), &[-1.0]);
        explicit(g, Op::SparseToDense(SparseToDenseOptions::default()), &[i, s, val, d], "y", DType::F32, &[6])
    }));

    // Spatial.
    v.push(f32_case("l2_pool2d/f32_same", &[1, 5, 6, 3], |g, x| g.l2_pool2d(x, Pool2dOptions::new(Padding::Same, 2, 2, 2, 3))));
    v.push(f32_case("l2_pool2d/f32_valid_relu6", &[2, 4, 4, 2], |g, x| {
        g.l2_pool2d(x, Pool2dOptions::new(Padding::Valid, 2, 2, 1, 1).with_activation(Activation::Relu6))
    }));
    {
        let mut r = Rng::new(31);
        let w = r.vec(2 * 3 * 3 * 2 * 3, 0.5);
        let b = r.vec(3, 0.5);
        let mut c = f32_case("conv3d/f32_same", &[1, 4, 5, 5, 2], move |g, x| {
            let w = g.constant_f32("w", [2, 3, 3, 2, 3], &w);
            let b = g.constant_f32("b", [3], &b);
            let mut o = Conv3dOptions::default();
            o.padding = Padding::Same;
            (o.stride_d, o.stride_h, o.stride_w) = (1, 1, 1);
            (o.dilation_d_factor, o.dilation_h_factor, o.dilation_w_factor) = (1, 1, 1);
            g.conv3d(&[Some(x), Some(w), Some(b)], o)
        });
        c.rtol = 1e-4;
        c.atol = 1e-4;
        v.push(c);
        let w = r.vec(2 * 2 * 2 * 3 * 2, 0.5);
        let mut c = f32_case("conv3d/f32_valid_strided", &[2, 5, 6, 5, 3], move |g, x| {
            let w = g.constant_f32("w", [2, 2, 2, 3, 2], &w);
            let mut o = Conv3dOptions::default();
            o.padding = Padding::Valid;
            (o.stride_d, o.stride_h, o.stride_w) = (2, 1, 2);
            (o.dilation_d_factor, o.dilation_h_factor, o.dilation_w_factor) = (1, 2, 1);
            o.fused_activation_function = Activation::Relu;
            g.conv3d(&[Some(x), Some(w)], o)
        });
        c.rtol = 1e-4;
        c.atol = 1e-4;
        v.push(c);
    }

    {
        let mut r = Rng::new(37);
        let w = r.vec(3 * 3 * 3 * 2 * 2, 0.5);
        let b = r.vec(2, 0.5);
        let mut c = f32_case("conv_3d_transpose/f32_same_strided", &[1, 2, 3, 2, 2], move |g, x| {
            let s = g.constant_i32("s", [5], &[1, 4, 5, 4, 2]);
            let w = g.constant_f32("w", [3, 3, 3, 2, 2], &w);
            let b = g.constant_f32("b", [2], &b);
            let mut o = Conv3dOptions::default();
            o.padding = Padding::Same;
            (o.stride_d, o.stride_h, o.stride_w) = (2, 2, 2);
            (o.dilation_d_factor, o.dilation_h_factor, o.dilation_w_factor) = (1, 1, 1);
            g.conv3d_transpose(&[Some(s), Some(w), Some(x), Some(b)], o)
        });
        c.rtol = 1e-4;
        c.atol = 1e-4;
        v.push(c);
        let w = r.vec(2 * 2 * 3 * 3 * 2, 0.5);
        let mut c = f32_case("conv_3d_transpose/f32_valid_dilated", &[2, 3, 2, 3, 2], move |g, x| {
            let s = g.constant_i32("s", [5], &[2, 4, 4, 5, 3]);
            let w = g.constant_f32("w", [2, 2, 3, 3, 2], &w);
            let mut o = Conv3dOptions::default();
            o.padding = Padding::Valid;
            (o.stride_d, o.stride_h, o.stride_w) = (1, 1, 1);
            (o.dilation_d_factor, o.dilation_h_factor, o.dilation_w_factor) = (1, 2, 1);
            o.fused_activation_function = Activation::Relu;
            g.conv3d_transpose(&[Some(s), Some(w), Some(x)], o)
        });
        c.rtol = 1e-4;
        c.atol = 1e-4;
        v.push(c);
    }

    v.push(f32_case("dilate/f32", &[2, 3, 2], |g, x| {
        let d = g.constant_i32("d", [3], &[1, 2, 3]);
        let p = g.constant_f32("p", Shape::scalar(), &[-1.5]);
        explicit(g, Op::Dilate, &[x, d, p], "y", DType::F32, &[2, 5, 4])
    }));
    v.push(typed("dilate/i32", DType::I32, &[3, 2], |g, x| {
        let d = g.constant_i32("d", [2], &[3, 2]);
        let p = scalar_i32(g, "p", 7);
        explicit(g, Op::Dilate, &[x, d, p], "y", DType::I32, &[7, 3])
    }));

    for (tag, f, dims, window, wstrides, dil, init, out) in [
        ("f32_max", ReduceWindowFunction::Maximum, vec![1u32, 6, 5, 2], [1i64, 3, 2, 1], [1i64, 2, 1, 1], [1i64, 1, 2, 1], -100.0f32, vec![1u32, 2, 3, 2]),
        ("f32_add", ReduceWindowFunction::Add, vec![4, 5, 1, 1], [2, 3, 1, 1], [2, 1, 1, 1], [1, 1, 1, 1], 0.5, vec![2, 3, 1, 1]),
        ("f32_min_dilated", ReduceWindowFunction::Minimum, vec![2, 7, 3, 1], [1, 2, 2, 1], [1, 3, 1, 1], [1, 3, 2, 1], 100.0, vec![2, 2, 1, 1]),
    ] {
        v.push(f32_case(&format!("reduce_window/{tag}"), &dims, move |g, x| {
            let i = g.constant_f32("init", Shape::scalar(), &[init]);
            let w = g.constant("window", DType::I64, [4], ConstData::from_slice(&window));
            let s = g.constant("strides", DType::I64, [4], ConstData::from_slice(&wstrides));
            let d = g.constant("dilations", DType::I64, [4], ConstData::from_slice(&dil));
            let mut o = ReduceWindowOptions::default();
            o.reduce_function = f;
            explicit(g, Op::ReduceWindow(o), &[x, i, w, s, d], "y", DType::F32, &out)
        }));
    }

    // Value-dependent output shapes.
    v.push(f32_case("where/f32", &[3, 4], |g, x| {
        let zero = g.constant_f32("zero", [1], &[0.0]);
        let c = g.apply(Op::Greater, &[Some(x), Some(zero)])?;
        g.where_true(c)
    }));
    v.push(typed("where/i32", DType::I32, &[2, 3, 2], |g, x| g.where_true(x)));
    v.push(f32_multi("unique/f32", &[10], |g, x| {
        // floor(2x) repeats values.
        let two = g.constant_f32("two", [1], &[2.0]);
        let m = g.mul(x, two)?;
        let f = g.floor(m)?;
        let mut o = UniqueOptions::default();
        o.idx_out_type = DType::I32;
        g.unique(f, o)
    }));
    v.push(Case::new("unique/i32", model_of(|g| {
        let x = g.input("x", DType::I32, [9]);
        let mut o = UniqueOptions::default();
        o.idx_out_type = DType::I32;
        let ys = g.unique(x, o)?;
        g.output("y0", ys[0]);
        g.output("y1", ys[1]);
        Ok(())
    })));
    v
}

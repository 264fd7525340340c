//! Builder-tier cases of the int8 and int16 kernels of rarely used ops
//! (issue 8): BITCAST, HASHTABLE_LOOKUP, LSH_PROJECTION, DENSIFY and
//! REDUCE_WINDOW. These kernels copy, hash or fold the stored integers, so
//! the NumPy reference works on the raw arrays (reference_rare.py,
//! reference_data.py).
//!
//! The runner draws int8 and int16 inputs over their whole range.

use super::*;

type B<'a> = &'a mut SubgraphBuilder;

/// An op with explicit outputs `(dtype, shape, quantization)`.
fn explicit(g: B, op: Op, inputs: &[TensorId], outs: &[(DType, &[u32], Option<Quantization>)]) -> Result<Vec<TensorId>, ValidationError> {
    let ids: Vec<TensorId> = outs
        .iter()
        .enumerate()
        .map(|(k, (dtype, shape, q))| {
            let mut t = Tensor::new(format!("y{k}"), *dtype, *shape);
            t.quantization = q.clone();
            g.add_tensor(t)
        })
        .collect();
    g.add_operator(Operator::new(op, inputs, &ids))?;
    Ok(ids)
}

fn ints(dtype: DType, v: &[i64]) -> ConstData {
    match dtype {
        DType::I8 => ConstData::from_slice(&v.iter().map(|x| *x as i8).collect::<Vec<_>>()),
        _ => ConstData::from_slice(&v.iter().map(|x| *x as i16).collect::<Vec<_>>()),
    }
}

/// The cases.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // BITCAST of plain int8: two bytes into one int16 (little-endian), and
    // four into one int32.
    v.push(Case { quant_tol: 0, ..Case::new("bitcast/i8_to_i16", model_of(|g| {
        let x = g.input("x", DType::I8, [3, 2]);
        let y = explicit(g, Op::Bitcast, &[x], &[(DType::I16, &[3], None)])?;
        g.output("y", y[0]);
        Ok(())
    })) });
    v.push(Case { quant_tol: 0, ..Case::new("bitcast/i8_to_i32", model_of(|g| {
        let x = g.input("x", DType::I8, [2, 3, 4]);
        let y = explicit(g, Op::Bitcast, &[x], &[(DType::I32, &[2, 3], None)])?;
        g.output("y", y[0]);
        Ok(())
    })) });
    for (tag, dtype, q) in [
        ("int8", DType::I8, Some(Quantization::per_tensor(0.05, -3))),
        ("int16", DType::I16, Some(Quantization::per_tensor(0.001, 0))),
        ("i16_plain", DType::I16, None),
    ] {
        // HASHTABLE_LOOKUP of int8 / int16 value rows: keys 3 and 9 hit,
        // the others miss (a zero row, hit 0).
        v.push(Case { quant_tol: 0, ..Case::new(format!("hashtable_lookup/{tag}_rows"), model_of(|g| {
            let vals = g.input("values", dtype, [4, 3]);
            if let Some(q) = &q {
                g.set_quantization(vals, q.clone());
            }
            let look = g.constant_i32("lookup", [6], &[3, 0, 7, 5, 9, -1]);
            let keys = g.constant_i32("keys", [4], &[0, 3, 5, 9]);
            let o = explicit(g, Op::HashtableLookup, &[look, keys, vals], &[(dtype, &[6, 3], q.clone()), (DType::U8, &[6], None)])?;
            g.output("y", o[0]);
            g.output("hits", o[1]);
            Ok(())
        })) });
    }
    // LSH_PROJECTION of int8 and int16 rows: farmhash Fingerprint64 of
    // (seed bytes, the row's raw bytes).
    for (tag, dtype, quantized) in [("int8", DType::I8, true), ("int16", DType::I16, false)] {
        for (kind, kname, hash, weighted) in [
            (LshProjectionType::Sparse, "sparse_weighted", [3u32, 4], true),
            (LshProjectionType::Dense, "dense", [2, 5], false),
        ] {
            let mut r = Rng::new(81);
            let seeds = r.vec((hash[0] * hash[1]) as usize, 100.0);
            let w = r.vec(4, 1.0);
            let mut o = LshProjectionOptions::default();
            o.kind = kind;
            let out = if kind == LshProjectionType::Sparse { hash[0] } else { hash[0] * hash[1] };
            v.push(Case { quant_tol: 0, ..Case::new(format!("lsh_projection/{tag}_{kname}"), model_of(|g| {
                let h = g.constant_f32("hash", hash, &seeds);
                let x = g.input("x", dtype, [4, 6]);
                if quantized {
                    g.set_quantization(x, Quantization::per_tensor(0.05, -3));
                }
                let mut ins = vec![h, x];
                if weighted {
                    ins.push(g.constant_f32("weight", [4], &w));
                }
                let y = explicit(g, Op::LshProjection(o), &ins, &[(DType::I32, &[out], None)])?;
                g.output("y", y[0]);
                Ok(())
            })) });
        }
    }
    // DENSIFY of a quantized int8 sparse constant (CSR, and block-CSR with
    // 1x4 blocks), added to an int8 input of the same parameters (only the
    // sum is an output: see the float DENSIFY cases).
    for (name, rows, cols, block) in [("densify/int8_csr", 4u32, 6u32, 1usize), ("densify/int8_block_csr_1x4", 4, 8, 4)] {
        let mut r = Rng::new(91);
        let mut m = vec![0f32; (rows * cols) as usize];
        for (i, x) in m.iter_mut().enumerate() {
            let (row, blk) = (i / cols as usize, (i % cols as usize) / block);
            if row != 1 && (row * 7 + blk * 3) % 5 < 3 {
                // Nonzero integers in -100..=100.
                let k = (r.uniform() * 100.0).round();
                *x = if k == 0.0 { 1.0 } else { k };
            }
        }
        let (sp, stored) = super::cases_rare::block_csr(&m, rows as usize, cols as usize, block);
        let stored: Vec<i64> = stored.iter().map(|x| *x as i64).collect();
        let q = Quantization::per_tensor(0.05, 0);
        v.push(Case::new(name, model_of(|g| {
            let x = g.input("x", DType::I8, [rows, cols]);
            g.set_quantization(x, q.clone());
            let w = g.constant("w_sparse", DType::I8, [stored.len() as u32], ints(DType::I8, &stored));
            g.set_quantization(w, q.clone());
            let t = g.tensor_mut(w);
            t.shape = Shape::from([rows, cols]);
            t.sparsity = Some(sp);
            let d = g.densify(w)?;
            let y = g.add(d, x)?;
            // |x + w| <= 6.4 + 5.
            g.set_quantization(y, Quantization::per_tensor(11.5 / 127.0, 0));
            g.output("y", y);
            Ok(())
        })));
    }
    // REDUCE_WINDOW of plain int8 and int16 (the StableHLO kernel folds
    // the stored integers): MAXIMUM and MINIMUM, which cannot overflow,
    // and an int16 ADD of a window of 2 over int8-ranged values.
    for (tag, dtype, f, init, window, strides, dil, dims, out) in [
        ("i8_max", DType::I8, ReduceWindowFunction::Maximum, -128i64, [1i64, 3, 2, 1], [1i64, 2, 1, 1], [1i64, 1, 2, 1], [1u32, 6, 5, 2], [1u32, 2, 3, 2]),
        ("i8_min_dilated", DType::I8, ReduceWindowFunction::Minimum, 127, [1, 2, 2, 1], [1, 3, 1, 1], [1, 3, 2, 1], [2, 7, 3, 1], [2, 2, 1, 1]),
        ("i16_max", DType::I16, ReduceWindowFunction::Maximum, -32768, [1, 3, 2, 1], [1, 2, 1, 1], [1, 1, 2, 1], [1, 6, 5, 2], [1, 2, 3, 2]),
        ("i16_min", DType::I16, ReduceWindowFunction::Minimum, 32767, [2, 3, 1, 1], [2, 1, 1, 1], [1, 1, 1, 1], [4, 5, 1, 1], [2, 3, 1, 1]),
    ] {
        v.push(Case { quant_tol: 0, ..Case::new(format!("reduce_window/{tag}"), model_of(|g| {
            let x = g.input("x", dtype, dims);
            let i = g.constant("init", dtype, Shape::scalar(), ints(dtype, &[init]));
            let w = g.constant("window", DType::I64, [4], ConstData::from_slice(&window));
            let s = g.constant("strides", DType::I64, [4], ConstData::from_slice(&strides));
            let d = g.constant("dilations", DType::I64, [4], ConstData::from_slice(&dil));
            let mut o = ReduceWindowOptions::default();
            o.reduce_function = f;
            let y = explicit(g, Op::ReduceWindow(o), &[x, i, w, s, d], &[(dtype, &out, None)])?;
            g.output("y", y[0]);
            Ok(())
        })) });
    }
    // An int16 ADD fold: the int8 input cast to int16 first, so the sum of
    // a window of 6 stays in range.
    v.push(Case { quant_tol: 0, ..Case::new("reduce_window/i16_add", model_of(|g| {
        let x = g.input("x", DType::I8, [4, 5, 1, 1]);
        let x16 = g.cast(x, DType::I16)?;
        let i = g.constant("init", DType::I16, Shape::scalar(), ints(DType::I16, &[7]));
        let w = g.constant("window", DType::I64, [4], ConstData::from_slice(&[2i64, 3, 1, 1]));
        let s = g.constant("strides", DType::I64, [4], ConstData::from_slice(&[2i64, 1, 1, 1]));
        let d = g.constant("dilations", DType::I64, [4], ConstData::from_slice(&[1i64, 1, 1, 1]));
        let mut o = ReduceWindowOptions::default();
        o.reduce_function = ReduceWindowFunction::Add;
        let y = explicit(g, Op::ReduceWindow(o), &[x16, i, w, s, d], &[(DType::I16, &[2, 3, 1, 1], None)])?;
        g.output("y", y[0]);
        Ok(())
    })) });
    v
}

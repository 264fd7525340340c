//! Builder-tier cases of the rarely used builtins: BITCAST, the complex
//! ops (RFFT2D, REAL, IMAG, COMPLEX_ABS), EMBEDDING_LOOKUP_SPARSE,
//! HASHTABLE_LOOKUP, LSH_PROJECTION and the random ops.
//!
//! Ids, indices, keys and hash seeds are constants (so they are valid);
//! the data they select or hash is a float graph input, so most cases also
//! fit the evaluator tier. The random ops are judged by properties (see
//! [`RandomCheck`]), not against a NumPy generator.

use super::*;

/// What a random op's output must satisfy, judged by the runner's `random`
/// job over several fresh interpreters and invocations.
#[derive(Clone, Debug)]
pub enum RandomCheck {
    /// float32 in `[0, 1)`, mean 1/2, standard deviation `1/sqrt(12)`.
    Uniform,
    /// float32, mean 0, standard deviation 1.
    Normal,
    /// Class indices per batch row whose frequencies follow `probs` (one
    /// row of probabilities per batch row).
    Multinomial { probs: Vec<Vec<f64>> },
}

impl RandomCheck {
    /// The runner's name of the distribution.
    pub fn kind(&self) -> &'static str {
        match self {
            RandomCheck::Uniform => "uniform",
            RandomCheck::Normal => "normal",
            RandomCheck::Multinomial { .. } => "multinomial",
        }
    }
}

fn seeds(seed: i64, seed2: i64) -> RandomOptions {
    let mut o = RandomOptions::default();
    o.seed = seed;
    o.seed2 = seed2;
    o
}

fn random_case(name: &str, check: RandomCheck, seeded: bool, f: impl FnOnce(&mut SubgraphBuilder, RandomOptions) -> Result<TensorId, ValidationError>) -> Case {
    let o = if seeded { seeds(42, 7) } else { seeds(0, 0) };
    let model = model_of(|g| {
        let y = f(g, o)?;
        g.output("y", y);
        Ok(())
    });
    let mut c = Case::new(name, model);
    c.random = Some((check, seeded));
    c.no_eval = Some("random numbers: judged by properties, not values");
    c
}

fn random_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for seeded in [true, false] {
        let tag = if seeded { "seeded" } else { "unseeded" };
        v.push(random_case(&format!("random_uniform/{tag}"), RandomCheck::Uniform, seeded, |g, o| {
            let s = g.constant_i32("shape", [2], &[64, 80]);
            g.random_uniform(s, o)
        }));
        v.push(random_case(&format!("random_standard_normal/{tag}"), RandomCheck::Normal, seeded, |g, o| {
            let s = g.constant_i32("shape", [3], &[4, 40, 32]);
            g.random_standard_normal(s, o)
        }));
    }
    // Two rows of class probabilities; a -inf logit is never drawn.
    let probs = vec![vec![0.1, 0.2, 0.3, 0.4, 0.0], vec![0.5, 0.25, 0.0, 0.125, 0.125]];
    let logits: Vec<f32> = probs.iter().flatten().map(|p| if *p == 0.0 { f32::NEG_INFINITY } else { (*p as f32).ln() + 3.0 }).collect();
    for (out, tag) in [(DType::I64, "i64"), (DType::I32, "i32")] {
        let logits = logits.clone();
        v.push(random_case(&format!("multinomial/{tag}"), RandomCheck::Multinomial { probs: probs.clone() }, true, move |g, o| {
            let l = g.constant_f32("logits", [2, 5], &logits);
            let n = g.constant_i32("num_samples", [], &[4000]);
            g.apply_with(Op::Multinomial(o), &[Some(l), Some(n)], Some(out), None)
        }));
    }
    v
}

/// One operator with explicit output tensors (for ops whose output shape
/// depends on constant contents the builder does not read).
fn explicit(g: &mut SubgraphBuilder, op: Op, inputs: &[TensorId], outs: &[(DType, &[u32])]) -> Result<Vec<TensorId>, ValidationError> {
    let ids: Vec<TensorId> = outs
        .iter()
        .enumerate()
        .map(|(i, (dt, shape))| g.add_tensor(Tensor::new(format!("{}_out{i}", op.name().to_lowercase()), *dt, *shape)))
        .collect();
    g.add_operator(Operator::new(op, inputs, &ids))?;
    Ok(ids)
}

fn embedding_sparse_case(name: &str, combiner: CombinerType, params: &[u32], indices: &[i32], rank: u32, dense: &[i32], out: &[u32]) -> Case {
    let n = indices.len() as u32 / rank;
    let ids: Vec<i32> = (0..n as i32).map(|i| (i * 3 + 1) % params[0] as i32).collect();
    let weights: Vec<f32> = (0..n).map(|i| 0.5 + 0.75 * (i % 3) as f32).collect();
    let mut o = EmbeddingLookupSparseOptions::default();
    o.combiner = combiner;
    Case::new(name, model_of(|g| {
        let p = g.input("params", DType::F32, params);
        let ids = g.constant_i32("ids", [n], &ids);
        let idx = g.constant_i32("indices", [n, rank], indices);
        let ds = g.constant_i32("dense_shape", [rank], dense);
        let w = g.constant_f32("weights", [n], &weights);
        let y = explicit(g, Op::EmbeddingLookupSparse(o), &[ids, idx, ds, w, p], &[(DType::F32, out)])?;
        g.output("y", y[0]);
        Ok(())
    }))
}

fn lsh_case(name: &str, kind: LshProjectionType, hash: [u32; 2], input: &[u32], weighted: bool) -> Case {
    let mut r = Rng::new(80);
    let seeds = r.vec((hash[0] * hash[1]) as usize, 100.0);
    let w = r.vec(input[0] as usize, 1.0);
    let mut o = LshProjectionOptions::default();
    o.kind = kind;
    let out = if kind == LshProjectionType::Sparse { hash[0] } else { hash[0] * hash[1] };
    Case::new(name, model_of(|g| {
        let h = g.constant_f32("hash", hash, &seeds);
        let x = g.input("x", DType::F32, input);
        let mut ins = vec![h, x];
        if weighted {
            ins.push(g.constant_f32("weight", [input[0]], &w));
        }
        let y = explicit(g, Op::LshProjection(o), &ins, &[(DType::I32, &[out])])?;
        g.output("y", y[0]);
        Ok(())
    }))
}

/// A TFLite string tensor's buffer: the count, `count + 1` offsets from the
/// buffer's start, then the bytes.
pub fn string_buffer(items: &[&str]) -> Vec<u8> {
    let n = items.len();
    let mut offset = 4 * (n + 2);
    let mut b = Vec::new();
    b.extend((n as i32).to_le_bytes());
    for s in items {
        b.extend((offset as i32).to_le_bytes());
        offset += s.len();
    }
    b.extend((offset as i32).to_le_bytes());
    for s in items {
        b.extend(s.as_bytes());
    }
    b
}

fn skip_gram_case(name: &str, sentence: &str, ngram: i32, skip: i32, all: bool) -> Case {
    let mut o = SkipGramOptions::default();
    o.ngram_size = ngram;
    o.max_skip_size = skip;
    o.include_all_ngrams = all;
    let bytes = string_buffer(&[sentence]);
    let mut c = Case::new(name, model_of(|g| {
        let x = g.constant("sentence", DType::String, [1], ConstData::from_bytes(bytes));
        // The n-gram count is known after the run only.
        let y = g.add_tensor(Tensor::new("ngrams", DType::String, Shape::from_dims(vec![Dim::Dynamic])));
        g.add_operator(Operator::new(Op::SkipGram(o), &[x], &[y]))?;
        g.output("y", y);
        Ok(())
    }));
    c.no_eval = Some("string tensors: the evaluator holds numbers only");
    c
}

/// A dense row-major `rows x cols` matrix stored sparse: rows dense, column
/// blocks of `block` CSR-compressed (blocks of zeros dropped), each kept
/// block dense. Returns the sparsity and the stored values.
pub fn block_csr(m: &[f32], rows: usize, cols: usize, block: usize) -> (Sparsity, Vec<f32>) {
    let (mut segments, mut indices, mut stored) = (vec![0], Vec::new(), Vec::new());
    for r in 0..rows {
        for b in 0..cols / block {
            let vals = &m[r * cols + b * block..r * cols + (b + 1) * block];
            if vals.iter().any(|v| *v != 0.0) {
                indices.push(b as i32);
                stored.extend_from_slice(vals);
            }
        }
        segments.push(indices.len() as i32);
    }
    let csr = SparseDim::Csr { segments, indices };
    let s = if block == 1 {
        Sparsity::new(vec![0, 1], vec![], vec![SparseDim::Dense(rows as i32), csr])
    } else {
        Sparsity::new(vec![0, 1, 2], vec![1], vec![SparseDim::Dense(rows as i32), csr, SparseDim::Dense(block as i32)])
    };
    (s, stored)
}

fn densify_case(name: &str, rows: u32, cols: u32, block: usize) -> Case {
    let mut r = Rng::new(90);
    // About half the blocks are zero; an all-zero row stays empty.
    let mut m = vec![0f32; (rows * cols) as usize];
    for (i, v) in m.iter_mut().enumerate() {
        let (row, blk) = (i / cols as usize, (i % cols as usize) / block);
        if row != 1 && (row * 7 + blk * 3) % 5 < 3 {
            *v = r.uniform() * 2.0;
        }
    }
    let (sp, stored) = block_csr(&m, rows as usize, cols as usize, block);
    Case::new(name, model_of(|g| {
        let x = g.input("x", DType::F32, [rows, cols]);
        let w = g.constant_f32("w_sparse", [stored.len() as u32], &stored);
        let t = g.tensor_mut(w);
        t.shape = Shape::from([rows, cols]);
        t.sparsity = Some(sp);
        let d = g.densify(w)?;
        let y = g.add(d, x)?;
        // Only the sum is an output: with the default XNNPACK delegate,
        // which folds DENSIFY into the consumer's static weights, a DENSIFY
        // result that is also a graph output reads back as garbage.
        g.output("y", y);
        Ok(())
    }))
}

/// Quantized cases of ops whose int8 / int16 kernels no other case reaches
/// (comparisons, REDUCE_MIN, ARG_MAX / ARG_MIN, the diagonal ops,
/// ONE_HOT, RELU_N1_TO_1, RELU_0_TO_1, FLOOR_MOD). Inputs and outputs
/// share `q`, so results that copy or compare stored integers are exact.
fn quantized_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let q8 = Quantization::per_tensor(0.05, 3);
    let q16 = Quantization::per_tensor(0.001, 0);
    let qin = |g: &mut SubgraphBuilder, name: &str, dt: DType, shape: &[u32], q: &Quantization| {
        let x = g.input(name, dt, shape);
        g.set_quantization(x, q.clone());
        x
    };
    let cmp = [
        ("equal", Op::Equal),
        ("not_equal", Op::NotEqual),
        ("less", Op::Less),
        ("less_equal", Op::LessEqual),
        ("greater", Op::Greater),
        ("greater_equal", Op::GreaterEqual),
    ];
    for (dt, tag, q, consts) in [(DType::I8, "int8", &q8, [-2i64, 3, 10, 100]), (DType::I16, "int16", &q16, [-300, 0, 7, 2000])] {
        for (name, op) in cmp.clone() {
            let q = q.clone();
            v.push(Case::new(format!("{tag}/{name}"), model_of(|g| {
                let a = qin(g, "a", dt, &[2, 3, 4], &q);
                let b = if dt == DType::I8 {
                    let c: Vec<i8> = consts.iter().map(|c| *c as i8).collect();
                    g.constant("b", dt, [4], ConstData::from_slice(&c))
                } else {
                    let c: Vec<i16> = consts.iter().map(|c| *c as i16).collect();
                    g.constant("b", dt, [4], ConstData::from_slice(&c))
                };
                g.set_quantization(b, q.clone());
                let z = g.apply(op, &[Some(a), Some(b)])?;
                g.output("z", z);
                Ok(())
            })));
        }
        // Clamps (int8 only in LiteRT), with the input's parameters on the
        // output.
        let qz = Quantization::per_tensor(q.scale[0], 0);
        let unary: Vec<(&str, Op, &Quantization)> = vec![
            ("relu_n1_to_1", Op::ReluN1To1, &qz),
            ("relu_0_to_1", Op::Relu0To1, &qz),
        ];
        for (name, op, uq) in unary.into_iter().filter(|_| dt == DType::I8) {
            let uq = uq.clone();
            v.push(Case { quant_tol: 1, ..Case::new(format!("{tag}/{name}"), model_of(|g| {
                let x = qin(g, "x", dt, &[2, 3, 5], &uq);
                let y = g.apply(op, &[Some(x)])?;
                g.set_quantization(y, uq.clone());
                g.output("y", y);
                Ok(())
            })) });
        }
        let q = q.clone();
        v.push(Case { quant_tol: 0, ..Case::new(format!("{tag}/reduce_min"), model_of(|g| {
            let x = qin(g, "x", dt, &[2, 4, 5], &q);
            let a = g.constant_i32("axes", [1], &[1]);
            let y = g.apply(Op::ReduceMin { keep_dims: false }, &[Some(x), Some(a)])?;
            g.set_quantization(y, q.clone());
            g.output("y", y);
            Ok(())
        })) });
        for (name, max) in [("arg_max", true), ("arg_min", false)].into_iter().filter(|_| dt == DType::I8) {
            let q = q.clone();
            v.push(Case::new(format!("{tag}/{name}"), model_of(|g| {
                let x = qin(g, "x", dt, &[3, 4, 5], &q);
                let a = g.constant_i32("axis", [1], &[2]);
                let op = if max { Op::ArgMax { output_type: DType::I32 } } else { Op::ArgMin { output_type: DType::I32 } };
                let z = g.apply_with(op, &[Some(x), Some(a)], Some(DType::I32), None)?;
                g.output("z", z);
                Ok(())
            })));
        }
        let qd = q.clone();
        v.push(Case { quant_tol: 0, ..Case::new(format!("{tag}/matrix_diag"), model_of(|g| {
            let x = qin(g, "x", dt, &[2, 4], &qd);
            let y = g.apply(Op::MatrixDiag, &[Some(x)])?;
            g.set_quantization(y, qd.clone());
            g.output("y", y);
            Ok(())
        })) });
        let qd = q.clone();
        v.push(Case { quant_tol: 0, ..Case::new(format!("{tag}/matrix_set_diag"), model_of(|g| {
            let x = qin(g, "x", dt, &[2, 3, 4], &qd);
            let d = qin(g, "d", dt, &[2, 3], &qd);
            let y = g.apply(Op::MatrixSetDiag, &[Some(x), Some(d)])?;
            g.set_quantization(y, qd.clone());
            g.output("y", y);
            Ok(())
        })) });
    }
    // ONE_HOT with int8 on / off values; FLOOR_MOD on int8 and int16.
    let id = Quantization::per_tensor(1.0, 0);
    v.push(Case { quant_tol: 0, ..Case::new("int8/one_hot", model_of(|g| {
        let i = g.input("indices", DType::I32, [3, 2]);
        let depth = g.constant_i32("depth", [], &[5]);
        let on = g.constant("on", DType::I8, [], ConstData::from_slice(&[7i8]));
        let off = g.constant("off", DType::I8, [], ConstData::from_slice(&[-3i8]));
        g.set_quantization(on, id.clone());
        g.set_quantization(off, id.clone());
        let mut o = OneHotOptions::default();
        o.axis = -1;
        let y = g.apply(Op::OneHot(o), &[Some(i), Some(depth), Some(on), Some(off)])?;
        g.set_quantization(y, id.clone());
        g.output("y", y);
        Ok(())
    })) });
    for (dt, tag) in [(DType::I8, "int8"), (DType::I16, "int16")] {
        let id = id.clone();
        v.push(Case { quant_tol: 0, ..Case::new(format!("{tag}/floor_mod"), model_of(|g| {
            let a = qin(g, "a", dt, &[3, 4], &id);
            let d = if dt == DType::I8 {
                g.constant("d", dt, [4], ConstData::from_slice(&[3i8, -3, 7, -20]))
            } else {
                g.constant("d", dt, [4], ConstData::from_slice(&[3i16, -3, 700, -2000]))
            };
            g.set_quantization(d, id.clone());
            let z = g.apply(Op::FloorMod, &[Some(a), Some(d)])?;
            g.set_quantization(z, id.clone());
            g.output("z", z);
            Ok(())
        })) });
    }
    v
}

/// The builder cases of this module.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // BITCAST: same size, and to a smaller type (one more axis).
    v.push(Case::new("bitcast/f32_to_i32", model_of(|g| {
        let x = g.input("x", DType::F32, [3, 4]);
        let y = explicit(g, Op::Bitcast, &[x], &[(DType::I32, &[3, 4])])?;
        g.output("y", y[0]);
        Ok(())
    })));
    v.push(Case::new("bitcast/f32_to_u8", model_of(|g| {
        let x = g.input("x", DType::F32, [2, 3]);
        let y = explicit(g, Op::Bitcast, &[x], &[(DType::U8, &[2, 3, 4])])?;
        g.output("y", y[0]);
        Ok(())
    })));
    v.push(Case::new("bitcast/u8_to_i16", model_of(|g| {
        let x = g.input("x", DType::U8, [3, 2]);
        let y = explicit(g, Op::Bitcast, &[x], &[(DType::I16, &[3])])?;
        g.output("y", y[0]);
        Ok(())
    })));
    // RFFT2D (complex64 output), and REAL, IMAG and COMPLEX_ABS of it. The
    // first crops the width and zero-pads the height.
    for (name, shape, fft) in [("rfft2d/pad_crop", [2u32, 3, 10], [4i32, 8]), ("rfft2d/exact", [4, 8, 16], [8, 16])] {
        let mut c = Case::new(name, model_of(|g| {
            let x = g.input("x", DType::F32, shape);
            let l = g.constant_i32("fft_length", [2], &fft);
            let y = g.rfft2d(x, l)?;
            let re = g.real(y)?;
            let im = g.imag(y)?;
            let ab = g.complex_abs(y)?;
            g.output("y", y);
            g.output("re", re);
            g.output("im", im);
            g.output("abs", ab);
            Ok(())
        }));
        c.rtol = 1e-4;
        c.atol = 1e-4;
        v.push(c);
    }
    // EMBEDDING_LOOKUP_SPARSE: rank-2 indices with an empty row, and rank-3
    // indices into multi-dimensional params.
    let idx2 = [0, 0, 0, 1, 2, 0, 3, 1, 3, 2, 3, 4];
    for (tag, comb) in [("sum", CombinerType::Sum), ("mean", CombinerType::Mean), ("sqrtn", CombinerType::Sqrtn)] {
        v.push(embedding_sparse_case(&format!("embedding_lookup_sparse/{tag}"), comb, &[5, 3], &idx2, 2, &[4, 5], &[4, 3]));
    }
    let idx3 = [0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 3];
    v.push(embedding_sparse_case("embedding_lookup_sparse/rank3_mean", CombinerType::Mean, &[6, 2, 3], &idx3, 3, &[2, 2, 4], &[2, 2, 2, 3]));
    // HASHTABLE_LOOKUP: keys 3 and 9 hit, the others miss (zeros, hit 0).
    v.push(Case::new("hashtable_lookup/float_rows", model_of(|g| {
        let vals = g.input("values", DType::F32, [4, 3]);
        let look = g.constant_i32("lookup", [6], &[3, 0, 7, 5, 9, -1]);
        let keys = g.constant_i32("keys", [4], &[0, 3, 5, 9]);
        let o = explicit(g, Op::HashtableLookup, &[look, keys, vals], &[(DType::F32, &[6, 3]), (DType::U8, &[6])])?;
        g.output("y", o[0]);
        g.output("hits", o[1]);
        Ok(())
    })));
    v.push(Case::new("hashtable_lookup/int32_lookup_input", model_of(|g| {
        let look = g.input("lookup", DType::I32, [8]);
        let keys = g.constant_i32("keys", [3], &[0, 2, 3]);
        let vals = g.constant_i32("values", [3, 2], &[10, 11, 20, 21, 30, 31]);
        let o = explicit(g, Op::HashtableLookup, &[look, keys, vals], &[(DType::I32, &[8, 2]), (DType::U8, &[8])])?;
        g.output("y", o[0]);
        g.output("hits", o[1]);
        Ok(())
    })));
    // LSH_PROJECTION: farmhash Fingerprint64 of (seed, input row) bytes.
    v.push(lsh_case("lsh_projection/sparse_weighted", LshProjectionType::Sparse, [3, 4], &[5], true));
    v.push(lsh_case("lsh_projection/dense_rows", LshProjectionType::Dense, [2, 5], &[4, 3], false));
    v.push(lsh_case("lsh_projection/sparse_long_rows", LshProjectionType::Sparse, [4, 6], &[3, 20], true));
    // SKIP_GRAM: a constant sentence (the harness draws no strings).
    v.push(skip_gram_case("skip_gram/bigrams_skip1", "the quick brown fox jumps", 2, 1, false));
    v.push(skip_gram_case("skip_gram/up_to_trigrams_skip2", "  a\tbb  c d\ne f ", 3, 2, true));
    v.push(skip_gram_case("skip_gram/ngrams_no_skip", "one two three four", 3, 0, false));
    v.push(skip_gram_case("skip_gram/too_few_words", "one two", 3, 1, false));
    // DENSIFY of a sparse constant: CSR, and block-CSR with 1x4 blocks.
    v.push(densify_case("densify/csr", 4, 6, 1));
    v.push(densify_case("densify/block_csr_1x4", 4, 8, 4));
    v.extend(random_cases());
    v.extend(quantized_cases());
    v
}

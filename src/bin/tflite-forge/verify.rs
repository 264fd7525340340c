//! `tflite-forge verify`: checks a .tflite file against the ONNX model it
//! came from, with our reference evaluator on both sides.
//!
//! The reference side is the ONNX model converted in memory with the ONNX
//! (NCHW) interface and no optimisation passes: the plain lowering of each
//! ONNX node, without the layout pass, fusions, constant-folding rewrites or
//! quantization that shaped the file under test. It shares the per-node
//! lowering with `convert`, so it catches a corrupted or mis-edited file and
//! mistakes of the optimisation, layout and quantization passes, not a wrong
//! lowering of an ONNX op (the conformance suite checks those against ONNX
//! Runtime).

use std::collections::BTreeMap;
use std::path::PathBuf;

use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions, IoLayout};
use tflite_forge::{DType, Model};

use crate::output::{read_file, read_model, CliError, CliResult, Progress, EXIT_FAILED, EXIT_OK};

/// Arguments of `verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    onnx: PathBuf,
    /// The .tflite file to check.
    tflite: PathBuf,
    /// Inputs as a .npz archive (np.savez), one array per ONNX input, keyed
    /// by the ONNX input name, in the ONNX (NCHW) layout. Default: random
    /// inputs (uniform in [-1, 1) for floats, 0..4 for integers).
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Largest accepted absolute error (max |a - b|) per output. An output
    /// passes when its absolute OR its relative error is within tolerance.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// Largest accepted relative error: max |a - b| / max |reference|.
    #[arg(long, default_value_t = 1e-4)]
    rel_tolerance: f64,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fix the batch dimension of the ONNX inputs (as `convert --batch`).
    #[arg(long)]
    batch: Option<u32>,
}

/// The per-output comparison.
struct Compared {
    name: String,
    shape: Vec<usize>,
    max_abs: f64,
    rel: f64,
    cosine: f64,
    pass: bool,
}

/// xorshift64*: deterministic inputs from `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Most elements of one random input.
const MAX_RANDOM_ELEMENTS: usize = 1 << 26;

/// Permutation from channels-first to channels-last.
fn nchw_to_nhwc(v: &Value) -> Value {
    permute(v, &[0, 2, 3, 1])
}

fn nhwc_to_nchw(v: &Value) -> Value {
    permute(v, &[0, 3, 1, 2])
}

/// Transposes a rank-4 value by `perm`.
fn permute(v: &Value, perm: &[usize; 4]) -> Value {
    let s = &v.shape;
    let shape: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
    let strides = [s[1] * s[2] * s[3], s[2] * s[3], s[3], 1];
    let mut data = Vec::with_capacity(v.data.len());
    for a in 0..shape[0] {
        for b in 0..shape[1] {
            for c in 0..shape[2] {
                for d in 0..shape[3] {
                    let idx = [a, b, c, d];
                    let mut src = 0;
                    for k in 0..4 {
                        src += idx[k] * strides[perm[k]];
                    }
                    data.push(v.data[src]);
                }
            }
        }
    }
    Value { dtype: v.dtype, shape, data, quantization: v.quantization.clone() }
}

/// The `tflite_forge:io_layout` metadata: name -> "NHWC" or "ONNX".
fn io_layouts(model: &Model) -> BTreeMap<String, String> {
    let Some(m) = model.metadata.iter().find(|m| m.name == "tflite_forge:io_layout") else { return BTreeMap::new() };
    String::from_utf8_lossy(m.data.as_bytes())
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, v)| (n.to_string(), v.to_string())))
        .collect()
}

/// The subgraph-0 inputs or outputs of a model with their names (from the
/// first signature of subgraph 0 when there is one, else tensor names).
fn named(model: &Model, outputs: bool) -> Vec<(String, usize)> {
    let sg = &model.subgraphs[0];
    let ids = if outputs { &sg.outputs } else { &sg.inputs };
    let sig = model.signatures.iter().find(|s| s.subgraph == 0);
    ids.iter()
        .enumerate()
        .map(|(pos, t)| {
            let from_sig = sig.and_then(|s| {
                let list = if outputs { &s.outputs } else { &s.inputs };
                list.iter().find(|(_, id)| id == t).map(|(n, _)| n.clone())
            });
            let name = from_sig.unwrap_or_else(|| sg.tensors.get(t.index()).map(|t| t.name.clone()).unwrap_or_default());
            (name, pos)
        })
        .collect()
}

/// Puts a real-valued input into the tensor's type (quantizing for a
/// quantized integer input).
fn to_tensor_type(v: &Value, t: &tflite_forge::Tensor) -> Value {
    let mut out = v.clone();
    out.dtype = t.dtype;
    out.quantization = None;
    if let Some(q) = &t.quantization
        && matches!(t.dtype, DType::I8 | DType::U8 | DType::I16)
        && let (Some(&scale), Some(&zp)) = (q.scale.first(), q.zero_point.first())
        && scale > 0.0
    {
        let (lo, hi) = match t.dtype {
            DType::I8 => (-128.0, 127.0),
            DType::U8 => (0.0, 255.0),
            _ => (-32768.0, 32767.0),
        };
        for x in &mut out.data {
            *x = ((*x / f64::from(scale)).round() + zp as f64).clamp(lo, hi);
        }
        out.quantization = Some(q.clone());
    }
    out
}

/// Runs `verify`: exit 0 when every output is within tolerance, 1 when one
/// is not.
pub fn run(a: Args) -> CliResult {
    let progress = Progress::new();
    let onnx = read_file(&a.onnx)?;
    let mut opts = ConvertOptions::default();
    opts.layout = IoLayout::KeepNchw;
    opts.no_optimize = true;
    opts.batch = a.batch;
    progress.set("converting the ONNX reference");
    let reference = convert(&onnx, &opts)
        .map_err(|e| {
            progress.done();
            CliError::input(format!("{}: {e}", a.onnx.display())).hint("verify needs an ONNX model that `convert` accepts")
        })?
        .model;
    let (_, model) = read_model(&a.tflite)?;
    let layouts = io_layouts(&model);
    if model.subgraphs.is_empty() || reference.subgraphs.is_empty() {
        return Err(CliError::input(format!("{}: has no subgraph", a.tflite.display())));
    }
    // Inputs, in the ONNX layout, keyed by ONNX name.
    let ref_sg = &reference.subgraphs[0];
    let given: BTreeMap<String, Value> = match &a.inputs {
        Some(p) => tflite_forge::npy::read_npz(&read_file(p)?)
            .map_err(|e| CliError::input(format!("{}: {e}", p.display())).hint("write it with numpy.savez (not savez_compressed)"))?
            .into_iter()
            .collect(),
        None => BTreeMap::new(),
    };
    let mut rng = Rng(a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut ref_inputs = Vec::new();
    let mut by_name = BTreeMap::new();
    for (name, pos) in named(&reference, false) {
        let t = &ref_sg.tensors[ref_sg.inputs[pos].index()];
        let v = match (&a.inputs, given.get(&name)) {
            (_, Some(v)) => {
                let want: Vec<usize> = t.shape.dims().iter().map(|d| d.fixed().unwrap_or(0) as usize).collect();
                let fits = v.shape.len() == want.len() && v.shape.iter().zip(&want).all(|(g, w)| *w == 0 || g == w);
                if !fits {
                    return Err(CliError::input(format!("input {name:?}: the .npz array has shape {:?}, the model takes {}", v.shape, t.shape))
                        .hint("give the array in the ONNX (NCHW) layout"));
                }
                Value { dtype: t.dtype, shape: v.shape.clone(), data: v.data.clone(), quantization: None }
            }
            (Some(p), None) => {
                return Err(CliError::input(format!("input {name:?} is not in {}", p.display())).hint(format!("the .npz needs one array per ONNX input, named {name:?}")));
            }
            (None, None) => {
                // A dynamic ONNX dimension takes the .tflite's size (in the
                // ONNX order, by the file's io_layout), else 1.
                let file_dims: Option<Vec<Option<u32>>> = named(&model, false).into_iter().find(|(n, _)| *n == name).and_then(|(_, p)| {
                    let ft = model.subgraphs[0].tensors.get(model.subgraphs[0].inputs.get(p)?.index())?;
                    let d: Vec<Option<u32>> = ft.shape.dims().iter().map(|d| d.fixed()).collect();
                    match (layouts.get(&name).map(String::as_str), d.as_slice()) {
                        (Some("NHWC"), [n, h, w, c]) => Some(vec![*n, *c, *h, *w]),
                        _ => Some(d),
                    }
                });
                let shape: Vec<usize> = t
                    .shape
                    .dims()
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        d.fixed().or_else(|| file_dims.as_ref().filter(|f| f.len() == t.shape.rank()).and_then(|f| f[i])).unwrap_or(1) as usize
                    })
                    .collect();
                let n = shape.iter().try_fold(1usize, |x, y| x.checked_mul(*y)).filter(|n| *n <= MAX_RANDOM_ELEMENTS).ok_or_else(|| {
                    CliError::input(format!("input {name:?} of shape {} is too large for random data", t.shape)).hint("pass --inputs")
                })?;
                let data = (0..n)
                    .map(|_| match t.dtype {
                        DType::F32 | DType::F16 | DType::F64 => rng.next() * 2.0 - 1.0,
                        DType::Bool => (rng.next() * 2.0).floor(),
                        _ => (rng.next() * 4.0).floor(),
                    })
                    .collect();
                Value { dtype: t.dtype, shape, data, quantization: None }
            }
        };
        by_name.insert(name, v.clone());
        ref_inputs.push(v);
    }
    progress.set("running the ONNX reference");
    let n_ref = ref_sg.operators.len();
    let ref_out = Evaluator::new(&reference)
        .run_observed(0, &ref_inputs, &mut |i, _, _| progress.set(&format!("reference: op {}/{n_ref}", i + 1)))
        .map_err(|e| {
            progress.done();
            CliError::input(format!("{}: reference run: {e}", a.onnx.display()))
        })?;
    // The file's inputs: same names, layout per its io_layout metadata or,
    // without it, by shape.
    let sg = &model.subgraphs[0];
    let mut inputs = Vec::new();
    for (name, pos) in named(&model, false) {
        let t = &sg.tensors[sg.inputs[pos].index()];
        let v = by_name.get(&name).ok_or_else(|| {
            CliError::input(format!("{} input {name:?} is not an input of {}", a.tflite.display(), a.onnx.display()))
                .hint("verify compares a .tflite with the ONNX model it was converted from")
        })?;
        let nhwc = match layouts.get(&name) {
            Some(l) => l == "NHWC",
            None => v.shape.len() == 4 && t.shape.rank() == 4 && t.shape.dims()[3].fixed() == Some(v.shape[1] as u32) && v.shape[1] != v.shape[3],
        };
        let v = if nhwc && v.shape.len() == 4 { nchw_to_nhwc(v) } else { v.clone() };
        inputs.push(to_tensor_type(&v, t));
    }
    progress.set("running the .tflite");
    let n = sg.operators.len();
    let out = Evaluator::new(&model)
        .run_observed(0, &inputs, &mut |i, _, _| progress.set(&format!("{}: op {}/{n}", a.tflite.display(), i + 1)))
        .map_err(|e| {
            progress.done();
            CliError::input(format!("{}: {e}", a.tflite.display()))
                .hint("if the shapes differ, fix the ONNX dimensions as the file was converted (--batch), or pass --inputs")
        })?;
    progress.done();
    let ref_names = named(&reference, true);
    let mut results = Vec::new();
    for (name, pos) in named(&model, true) {
        let Some((_, rpos)) = ref_names.iter().find(|(n, _)| *n == name) else {
            return Err(CliError::input(format!("output {name:?} of {} is not an output of {}", a.tflite.display(), a.onnx.display())));
        };
        let r = &ref_out[*rpos];
        let got = &out[pos];
        let got = Value { data: got.dequantized()?, quantization: None, ..got.clone() };
        let nhwc = layouts.get(&name).map(|l| l == "NHWC").unwrap_or(got.shape.len() == 4 && got.shape != r.shape);
        let got = if nhwc && got.shape.len() == 4 { nhwc_to_nchw(&got) } else { got };
        let rd = r.dequantized()?;
        if got.shape != r.shape {
            return Err(CliError::input(format!("output {name:?}: shape {:?}, the reference gives {:?}", got.shape, r.shape)));
        }
        let (mut max_abs, mut ref_max, mut dot, mut na, mut nb) = (0f64, 0f64, 0f64, 0f64, 0f64);
        for (x, y) in got.data.iter().zip(&rd) {
            let d = (x - y).abs();
            max_abs = if d.is_nan() { f64::INFINITY } else { max_abs.max(d) };
            ref_max = ref_max.max(y.abs());
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        let rel = if ref_max > 0.0 { max_abs / ref_max } else if max_abs == 0.0 { 0.0 } else { f64::INFINITY };
        // Both all-zero: the same; one all-zero: no similarity.
        let cosine = match (na == 0.0, nb == 0.0) {
            (true, true) => 1.0,
            (true, false) | (false, true) => 0.0,
            _ => dot / (na.sqrt() * nb.sqrt()),
        };
        let pass = max_abs <= a.tolerance || rel <= a.rel_tolerance;
        results.push(Compared { name, shape: r.shape.clone(), max_abs, rel, cosine, pass });
    }
    println!("{} vs {} ({} reference ops, {} ops)", a.tflite.display(), a.onnx.display(), n_ref, n);
    for r in &results {
        println!(
            "  {} {:<24} {:<16} max abs {:.3e}  rel {:.3e}  cosine {:.8}",
            if r.pass { "ok  " } else { "FAIL" },
            r.name,
            format!("{:?}", r.shape),
            r.max_abs,
            r.rel,
            r.cosine
        );
    }
    let failed = results.iter().filter(|r| !r.pass).count();
    if failed > 0 {
        println!("{failed} output(s) above tolerance (abs {:e}, rel {:e})", a.tolerance, a.rel_tolerance);
        return Ok(EXIT_FAILED);
    }
    println!("all {} output(s) within tolerance (abs {:e} or rel {:e})", results.len(), a.tolerance, a.rel_tolerance);
    Ok(EXIT_OK)
}

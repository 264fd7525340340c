//! The quantization flags (shared by `convert` and `quantize`), the
//! representative dataset they name, the calibration progress line and the
//! JSON report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use tflite_forge::eval::Value;
use tflite_forge::npy::{read_npy, read_npz};
use tflite_forge::quantize::{
    quantize_with_progress, CalibrationMethod, FloatReason, IoType, KeepFloat, QuantizeOptions, Quantized, SampleAdapter, SampleLayout,
};
use tflite_forge::Model;

/// Largest calibration file accepted.
const MAX_FILE: u64 = 1 << 30;

/// Quantization options on the command line.
#[derive(clap::Args, Debug, Clone)]
pub struct QuantArgs {
    /// Quantize: int8 (full integer), int16x8 (int16 activations, int8
    /// weights), int4 (int8 with int4 CONV_2D, DEPTHWISE_CONV_2D and
    /// FULLY_CONNECTED weights), all needing --calibration; dynamic (int8
    /// weights, float activations), dynamic-int4 (int4 FULLY_CONNECTED
    /// weights), weight-int8 (int8 weights dequantized to float at run
    /// time) or float16.
    #[arg(long, visible_alias = "mode", value_parser = crate::MODES)]
    pub quantize: Option<String>,
    /// Input and output type: float, int8 or uint8 (int8 models), int16
    /// (int16x8 models).
    #[arg(long, value_parser = ["float", "int8", "uint8", "int16"], default_value = "float", requires = "quantize")]
    pub io: String,
    /// The representative dataset: a directory of .npy files (one sample
    /// each, single-input models) and/or .npz files (arrays keyed by input
    /// name), or one .npy/.npz whose leading axis stacks N samples. Float
    /// arrays in the ONNX layout (NCHW) or the converted one (NHWC).
    #[arg(long, requires = "quantize")]
    pub calibration: Option<PathBuf>,
    /// The layout of the calibration arrays: auto (the ONNX layout when a
    /// shape fits it, also when it fits both; else the converted one),
    /// onnx or tflite.
    #[arg(long, value_parser = ["auto", "onnx", "tflite"], default_value = "auto", requires = "calibration")]
    pub calibration_layout: String,
    /// How ranges follow from the calibration data: minmax, percentile[:P]
    /// (P defaults to 99.99; clips rare outliers) or mse (least squared
    /// quantization error).
    #[arg(long, value_parser = CalibrationMethod::parse, default_value = "minmax", requires = "calibration")]
    pub calibration_method: CalibrationMethod,
    /// Fail on an op without an integer kernel in the chosen mode instead
    /// of leaving it in float between DEQUANTIZE and QUANTIZE.
    #[arg(long, requires = "quantize")]
    pub integer_only: bool,
    /// Keep the N layers that lose the most SNR (their input SNR minus
    /// their output SNR, from a first quantization) in float.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "calibration")]
    pub keep_float: usize,
    /// Keep every layer whose SNR drop is over X dB in float.
    #[arg(long, value_name = "X", requires = "calibration")]
    pub keep_float_db: Option<f64>,
    /// Keep these layers in float: op output tensor names or op types
    /// (HARD_SWISH: every one), comma-separated.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',', requires = "quantize")]
    pub keep_float_ops: Vec<String>,
    /// Write the per-tensor quantization report as JSON (fields in
    /// README.md, "Quantization report").
    #[arg(long, value_name = "PATH", requires = "calibration")]
    pub report: Option<PathBuf>,
    /// With --quantize dynamic-int4: blockwise FULLY_CONNECTED weights,
    /// one float16 scale per N inputs of each output row (a multiple of 32
    /// in 32..=256), instead of one per row. Weights that do not fit (N
    /// does not divide the input size, fewer than 4 outputs) keep per-row
    /// scales and are listed.
    #[arg(long, value_name = "N", requires = "quantize")]
    pub int4_block_size: Option<u32>,
}

impl QuantArgs {
    /// The library options, or `None` without --quantize.
    pub fn options(&self) -> Result<Option<QuantizeOptions>, String> {
        let Some(mode) = self.quantize.as_deref() else { return Ok(None) };
        let io = match self.io.as_str() {
            "int8" => IoType::Int8,
            "uint8" => IoType::Uint8,
            "int16" => IoType::Int16,
            _ => IoType::Float,
        };
        let calibrated = matches!(mode, "int8" | "int16x8" | "int4");
        if !calibrated && self.io != "float" {
            return Err(format!("--quantize {mode} keeps float inputs and outputs; --io {} needs int8, int4 or int16x8", self.io));
        }
        if calibrated && self.calibration.is_none() {
            return Err(format!("--quantize {mode} needs --calibration DIR|FILE (a representative dataset)"));
        }
        if !calibrated && (self.keep_float > 0 || self.keep_float_db.is_some() || !self.keep_float_ops.is_empty() || self.integer_only) {
            return Err(format!("--keep-float*, --integer-only apply to int8, int4 and int16x8, not {mode}"));
        }
        let mut keep = KeepFloat::default().with_ops(self.keep_float_ops.iter().cloned()).with_worst(self.keep_float);
        if let Some(db) = self.keep_float_db {
            keep = keep.with_drop_db(db);
        }
        if self.int4_block_size.is_some() && mode != "dynamic-int4" {
            return Err(format!("--int4-block-size applies to --quantize dynamic-int4 (LiteRT runs blockwise weights with float activations only), not {mode}"));
        }
        let options = match mode {
            "float16" => QuantizeOptions::float16(),
            "dynamic" => QuantizeOptions::dynamic_range(),
            "int16x8" => QuantizeOptions::int16x8(io),
            "int4" => QuantizeOptions::int8(io).with_int4_weights(true),
            "dynamic-int4" => QuantizeOptions::dynamic_range().with_int4_weights(true),
            "weight-int8" => QuantizeOptions::weight_only_int8(),
            _ => QuantizeOptions::int8(io),
        };
        let options = match self.int4_block_size {
            Some(n) => options.with_int4_block_size(Some(n)),
            None => options,
        };
        Ok(Some(options.with_calibration(self.calibration_method).with_integer_only(self.integer_only).with_keep_float(keep)))
    }

    /// The representative dataset in `model`'s layout (empty without
    /// --calibration).
    pub fn dataset(&self, model: &Model) -> Result<Vec<Vec<Value>>, String> {
        let Some(path) = &self.calibration else { return Ok(Vec::new()) };
        let layout = match self.calibration_layout.as_str() {
            "onnx" => SampleLayout::Onnx,
            "tflite" => SampleLayout::Tflite,
            _ => SampleLayout::Auto,
        };
        load_dataset(path, model, layout)
    }
}

/// Loads `path` (a directory, or one .npy/.npz file) as samples of
/// `model`'s inputs.
pub fn load_dataset(path: &Path, model: &Model, layout: SampleLayout) -> Result<Vec<Vec<Value>>, String> {
    let adapter = SampleAdapter::new(model, layout).map_err(|e| e.to_string())?;
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "npy" || x == "npz"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("{}: no .npy or .npz files", path.display()));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for f in files {
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", f.display());
        let len = std::fs::metadata(&f).map_err(|e| err(&e))?.len();
        if len > MAX_FILE {
            return Err(err(&format!("{len} bytes is over the 1 GiB limit")));
        }
        let bytes = std::fs::read(&f).map_err(|e| err(&e))?;
        let arrays = if f.extension().is_some_and(|x| x == "npz") {
            adapter.order(read_npz(&bytes).map_err(|e| err(&e))?).map_err(|e| err(&e))?
        } else {
            if adapter.inputs().len() != 1 {
                let names: Vec<&str> = adapter.inputs().iter().map(|s| s.name.as_str()).collect();
                return Err(err(&format!("a .npy file holds one array; this model has inputs {names:?}: use .npz files keyed by input name")));
            }
            vec![read_npy(&bytes).map_err(|e| err(&e))?]
        };
        for sample in adapter.unstack(arrays).map_err(|e| err(&e))? {
            out.push(adapter.adapt(sample).map_err(|e| err(&e))?);
        }
    }
    if out.is_empty() {
        return Err(format!("{}: no samples", path.display()));
    }
    Ok(out)
}

/// A one-line progress display on stderr, only when it is a terminal.
struct Progress {
    start: Instant,
    tty: bool,
    last: Option<Instant>,
}

impl Progress {
    fn new() -> Progress {
        Progress { start: Instant::now(), tty: std::io::stderr().is_terminal(), last: None }
    }

    fn update(&mut self, done: usize, total: usize) {
        if !self.tty {
            return;
        }
        let now = Instant::now();
        if done < total && self.last.is_some_and(|l| now.duration_since(l).as_millis() < 100) {
            return;
        }
        self.last = Some(now);
        let secs = now.duration_since(self.start).as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let left = if rate > 0.0 { (total - done) as f64 / rate } else { 0.0 };
        let width = 30;
        let filled = if total == 0 { width } else { done * width / total };
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\rcalibrating [{}{}] {done}/{total}  {rate:.1} samples/s  {left:.0} s left ",
            "#".repeat(filled),
            "-".repeat(width - filled)
        );
        if done == total {
            let _ = writeln!(err);
        }
    }
}

/// Quantizes `model` as `args` ask (`options` from [`QuantArgs::options`]),
/// printing a summary and writing the JSON report if asked for.
pub fn run(
    model: &Model,
    args: &QuantArgs,
    options: &QuantizeOptions,
    data: &[Vec<Value>],
    notes: &mut Vec<String>,
) -> Result<Quantized, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let mut progress = Progress::new();
    let result = quantize_with_progress(model, options, data, &mut |d, n| progress.update(d, n))?;
    let mode = args.quantize.as_deref().unwrap_or("");
    notes.push(format!("quantized ({mode}, {} I/O) from {} sample(s) in {:.1} s", args.io, data.len(), t.elapsed().as_secs_f64()));
    for f in &result.float_ops {
        let why = match f.reason {
            FloatReason::NoKernel => "no integer kernel",
            _ => "kept on request",
        };
        notes.push(format!("  float: op {} {} {:?} ({why})", f.operator, f.op, f.tensor));
    }
    for f in &result.blockwise_fallbacks {
        notes.push(format!("  {f}"));
    }
    if let Some(r) = &result.report {
        notes.push(format!("quantization error: outputs cosine {:.6}, SNR {:.1} dB", r.output_cosine, r.output_snr_db));
        let mut worst: Vec<_> = r.layers.iter().collect();
        worst.sort_by(|a, b| a.snr_db.total_cmp(&b.snr_db));
        for l in worst.iter().take(3) {
            notes.push(format!("  low SNR: op {} {} {:?}: {:.1} dB", l.operator, l.op, l.tensor, l.snr_db));
        }
    }
    if let Some(path) = &args.report {
        let text = report_json(model, args, &result);
        tflite_forge::write::atomic_write(path, text.as_bytes())?;
        notes.push(format!("report written to {}", path.display()));
    }
    Ok(result)
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number, or `null` when not finite (an exact layer's SNR is infinite).
fn json_num(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { "null".into() }
}

/// The report as JSON (written by hand: the crate has no serde).
fn report_json(model: &Model, args: &QuantArgs, q: &Quantized) -> String {
    let method = match args.calibration_method {
        CalibrationMethod::Percentile(p) => format!("percentile:{p}"),
        CalibrationMethod::Mse => "mse".into(),
        _ => "minmax".into(),
    };
    let mut s = String::from("{\n");
    s += &format!("  \"mode\": {},\n  \"io\": {},\n  \"calibration_method\": {},\n", json_str(args.quantize.as_deref().unwrap_or("")), json_str(&args.io), json_str(&method));
    if let Some(r) = &q.report {
        s += &format!("  \"samples\": {},\n  \"output_cosine\": {},\n  \"output_snr_db\": {},\n", r.samples, json_num(r.output_cosine), json_num(r.output_snr_db));
    }
    let floats: Vec<String> = q
        .float_ops
        .iter()
        .map(|f| {
            let reason = if f.reason == FloatReason::NoKernel { "no_kernel" } else { "requested" };
            format!(
                "    {{\"operator\": {}, \"op\": {}, \"tensor\": {}, \"reason\": {}}}",
                f.operator,
                json_str(&f.op),
                json_str(&f.tensor),
                json_str(reason)
            )
        })
        .collect();
    s += &format!("  \"float_ops\": [{}{}{}],\n", if floats.is_empty() { "" } else { "\n" }, floats.join(",\n"), if floats.is_empty() { "" } else { "\n  " });
    let layers: Vec<String> = q
        .report
        .iter()
        .flat_map(|r| &r.layers)
        .map(|l| {
            format!(
                "    {{\"operator\": {}, \"op\": {}, \"tensor\": {}, \"scale\": {}, \"max_abs_error\": {}, \"snr_db\": {}, \"cosine\": {}}}",
                l.operator,
                json_str(&l.op),
                json_str(&l.tensor),
                json_num(f64::from(l.scale)),
                json_num(l.max_abs_error),
                json_num(l.snr_db),
                json_num(l.cosine)
            )
        })
        .collect();
    s += &format!("  \"layers\": [{}{}{}],\n", if layers.is_empty() { "" } else { "\n" }, layers.join(",\n"), if layers.is_empty() { "" } else { "\n  " });
    let tensors = model.subgraphs.first().map(|sg| sg.tensors.as_slice()).unwrap_or_default();
    let ranges: Vec<String> = q
        .ranges
        .iter()
        .flat_map(|r| r.iter())
        .filter_map(|(i, (lo, hi))| {
            let t = tensors.get(i)?;
            Some(format!("    {{\"tensor\": {}, \"index\": {i}, \"min\": {}, \"max\": {}}}", json_str(&t.name), json_num(f64::from(lo)), json_num(f64::from(hi))))
        })
        .collect();
    s += &format!("  \"ranges\": [{}{}{}]\n}}\n", if ranges.is_empty() { "" } else { "\n" }, ranges.join(",\n"), if ranges.is_empty() { "" } else { "\n  " });
    s
}

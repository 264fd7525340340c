//! Peak memory per phase of a conversion (a profiling aid):
//! `cargo run --release --example mem_probe -- model.onnx out.tflite`.
fn hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string()))
        .map_or("?".into(), |kb| format!("{} MB", kb.parse::<u64>().unwrap_or(0) / 1024))
}

/// Minor page faults so far (field 10 of /proc/self/stat): each is a fresh
/// page the process touched.
fn minflt() -> String {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| s.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(7).map(str::to_string)))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(input), Some(output)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: mem_probe MODEL.onnx OUT.tflite");
        std::process::exit(2);
    };
    let t = std::time::Instant::now();
    let conv = match tflite_forge::onnx::convert_file(input, &Default::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!("converted in {:.0} ms, peak {}, {} minor faults", t.elapsed().as_secs_f64() * 1e3, hwm(), minflt());
    println!("{}", conv.report);
    let bytes = match tflite_forge::write::write_owned(conv.model) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!("written ({} bytes) at {:.0} ms, peak {}, {} minor faults", bytes.len(), t.elapsed().as_secs_f64() * 1e3, hwm(), minflt());
    if let Err(e) = tflite_forge::write::atomic_write(std::path::Path::new(output), &bytes) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!("saved at {:.0} ms, peak {}, {} minor faults", t.elapsed().as_secs_f64() * 1e3, hwm(), minflt());
}

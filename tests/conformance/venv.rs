//! The harness's own pinned Python environment, created with pip and cached
//! outside the checkout (`$TFLITE_FORGE_CACHE`, else `$XDG_CACHE_HOME/tflite-forge`,
//! else `~/.cache/tflite-forge`), keyed by a hash of requirements.txt.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TFLITE_FORGE_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("tflite-forge");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache").join("tflite-forge")
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Returns the python of the main venv (requirements.txt), creating it if needed.
pub fn ensure(root: &Path) -> Result<PathBuf, String> {
    ensure_from(root, "requirements.txt", "venv")
}

/// Hash of some bytes, for cache keys.
pub fn key(parts: &[&[u8]]) -> u64 {
    parts.iter().fold(0u64, |h, p| h ^ fnv(p).rotate_left(7))
}

/// Returns the python of a venv made from `tests/conformance/<file>`.
pub fn ensure_from(root: &Path, file: &str, prefix: &str) -> Result<PathBuf, String> {
    let req = root.join("tests/conformance").join(file);
    let text = std::fs::read(&req).map_err(|e| format!("{}: {e}", req.display()))?;
    let python = std::env::var("TFLITE_FORGE_BASE_PYTHON").unwrap_or_else(|_| "python3".into());
    let cache = cache_dir();
    let venv = cache.join(format!("{prefix}-{:016x}", fnv(&text)));
    let py = venv.join("bin/python");
    let marker = venv.join(".complete");
    if marker.exists() && py.exists() {
        return Ok(py);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let _ = std::fs::remove_dir_all(&venv);
    eprintln!("conformance: creating the Python venv at {} (cached for later runs)", venv.display());
    run(Command::new(&python).args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
    run(
        Command::new(&py)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r"])
            .arg(&req)
            .env("PIP_CACHE_DIR", cache.join("pip")),
        "pip install -r tests/conformance/<requirements>",
    )?;
    std::fs::write(&marker, b"ok").map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(py)
}

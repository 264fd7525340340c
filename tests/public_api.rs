//! The public API snapshot: a sorted list of the crate's public items
//! (from rustdoc's JSON output) must equal `tests/api/public-api.txt`.
//!
//! When the API changes on purpose, regenerate the file with
//! `UPDATE_PUBLIC_API=1 cargo test --test public_api` and commit it.
//!
//! rustdoc's JSON output is unstable, so it runs with `RUSTC_BOOTSTRAP=1`
//! on the pinned toolchain, in its own target directory
//! (`target/public-api`, so the running `cargo test` holds no lock on it;
//! the first run builds the dependencies there once).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The items of the local crate: `kind path` for each public item rustdoc
/// knows a path for (modules, types, functions, constants, variants, ...),
/// plus `field Type::name` for public struct fields, `method Type::name`
/// for inherent associated items and `impl Trait for Type` for trait impls.
fn api_lines(doc: &Value) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    let index = doc["index"].as_object().expect("index");
    let paths = doc["paths"].as_object().expect("paths");
    let mut local: HashMap<String, String> = HashMap::new();
    for (id, p) in paths {
        if p["crate_id"].as_u64() != Some(0) {
            continue;
        }
        let path = p["path"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("::")).unwrap_or_default();
        let kind = p["kind"].as_str().unwrap_or("?");
        lines.insert(format!("{kind} {path}"));
        local.insert(id.clone(), path);
    }
    let name_of = |id: &Value| -> Option<String> {
        let key = match id {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return None,
        };
        index.get(&key).and_then(|i| i["name"].as_str()).map(str::to_string)
    };
    let item = |id: &Value| -> Option<&Value> {
        let key = match id {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return None,
        };
        index.get(&key)
    };
    for (id, path) in &local {
        let Some(it) = index.get(id) else { continue };
        let inner = &it["inner"];
        // Public fields of plain structs.
        if let Some(fields) = inner["struct"]["kind"]["plain"]["fields"].as_array() {
            for f in fields {
                if let Some(name) = name_of(f) {
                    lines.insert(format!("field {path}::{name}"));
                }
            }
        }
        let impls = inner["struct"]["impls"].as_array().or_else(|| inner["enum"]["impls"].as_array()).or_else(|| inner["union"]["impls"].as_array());
        for imp in impls.into_iter().flatten() {
            let Some(imp) = item(imp) else { continue };
            let body = &imp["inner"]["impl"];
            if body["is_synthetic"].as_bool() == Some(true) || !body["blanket_impl"].is_null() {
                continue;
            }
            match body["trait"].as_object() {
                Some(t) => {
                    let tname = t.get("path").or_else(|| t.get("name")).and_then(Value::as_str).unwrap_or("?");
                    lines.insert(format!("impl {tname} for {path}"));
                }
                None => {
                    for m in body["items"].as_array().into_iter().flatten() {
                        let Some(m) = item(m) else { continue };
                        if m["visibility"].as_str() == Some("public") {
                            lines.insert(format!("method {path}::{}", m["name"].as_str().unwrap_or("?")));
                        }
                    }
                }
            }
        }
    }
    lines
}

#[test]
fn public_api_matches_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/public-api");
    let out = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["rustdoc", "--lib", "--quiet", "--target-dir"])
        .arg(&target)
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .env("RUSTC_BOOTSTRAP", "1")
        .output()
        .expect("run cargo rustdoc");
    assert!(out.status.success(), "cargo rustdoc failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let json = std::fs::read(target.join("doc/tflite_forge.json")).expect("rustdoc JSON");
    let doc: Value = serde_json::from_slice(&json).expect("parse rustdoc JSON");
    let current: String = api_lines(&doc).into_iter().map(|l| l + "\n").collect();
    let snapshot = root.join("tests/api/public-api.txt");
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        std::fs::write(&snapshot, &current).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    if expected != current {
        let old: BTreeSet<&str> = expected.lines().collect();
        let new: BTreeSet<&str> = current.lines().collect();
        let added: Vec<&str> = new.difference(&old).copied().take(40).collect();
        let removed: Vec<&str> = old.difference(&new).copied().take(40).collect();
        panic!(
            "the public API changed; if on purpose, run `UPDATE_PUBLIC_API=1 cargo test --test public_api` and commit tests/api/public-api.txt\nadded: {added:#?}\nremoved: {removed:#?}"
        );
    }
}

//! The flexbuffers tier: our FlexBuffers encoding and decoding against the
//! reference implementation in the `flatbuffers` wheel
//! (`flatbuffers.flexbuffers`): Python decodes our bytes to the value, and
//! we decode Python's bytes to the value.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value as Json};
use tflite_forge::flexbuffers::{self, Value};

use crate::common::Rng;
use crate::Outcome;

fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Float(f) => json!(f),
        Value::Key(s) | Value::String(s) => json!(s),
        Value::Blob(b) => json!({"$blob": b.iter().map(|x| format!("{x:02x}")).collect::<String>()}),
        Value::Vector(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(entries.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        other => json!(format!("{other:?}")),
    }
}

/// Same value, up to the integer kind (Python writes non-negative ints as
/// INT) and map order.
fn same(a: &Value, b: &Value) -> bool {
    let int = |v: &Value| match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        _ => None,
    };
    match (a, b) {
        (Value::Vector(x), Value::Vector(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Map(x), Value::Map(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            x.sort_by(|p, q| p.0.cmp(&q.0));
            y.sort_by(|p, q| p.0.cmp(&q.0));
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| p.0 == q.0 && same(&p.1, &q.1))
        }
        _ => match (int(a), int(b)) {
            (Some(p), Some(q)) => p == q,
            _ => a == b,
        },
    }
}

fn random_value(r: &mut Rng, depth: u32) -> Value {
    let pick = if depth == 0 { r.below(6) } else { r.below(9) };
    match pick {
        0 => Value::Int(r.next_u64() as i64 >> r.below(63)),
        1 => Value::Float(f64::from(r.uniform()) * 1e3),
        2 => Value::Bool(r.below(2) == 1),
        3 => Value::String((0..r.below(12)).map(|_| char::from(b'a' + r.below(26) as u8)).collect()),
        4 => Value::Blob((0..r.below(20)).map(|_| r.below(256) as u8).collect()),
        5 => Value::Null,
        6 | 7 => Value::Vector((0..r.below(6)).map(|_| random_value(r, depth - 1)).collect()),
        _ => {
            let mut keys: Vec<String> = (0..r.below(5)).map(|i| format!("k{}{}", i, r.below(100))).collect();
            keys.sort();
            keys.dedup();
            Value::Map(keys.into_iter().map(|k| (k, random_value(r, depth - 1))).collect())
        }
    }
}

fn cases() -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = vec![
        ("int_1".into(), Value::Int(1)),
        ("int_negative".into(), Value::Int(-1)),
        ("int_300".into(), Value::Int(300)),
        ("int_min".into(), Value::Int(i64::MIN)),
        ("float_half".into(), Value::Float(0.5)),
        // Needs 64 bits. (The reference's Dumps cannot encode floats beyond
        // the f32 range at all: it raises OverflowError.)
        ("float_wide".into(), Value::Float(1e-300)),
        ("float_pi".into(), Value::Float(std::f64::consts::PI)),
        ("bool".into(), Value::Bool(true)),
        ("null".into(), Value::Null),
        ("string_empty".into(), Value::String(String::new())),
        ("string_utf8".into(), Value::String("héllo wörld".into())),
        ("blob".into(), Value::Blob(vec![0, 1, 2, 255, 254])),
        ("vector_ints".into(), Value::Vector(vec![Value::Int(1), Value::Int(2), Value::Int(70000)])),
        ("vector_floats".into(), Value::Vector(vec![Value::Float(0.25), Value::Float(-2.5)])),
        ("vector_strings".into(), Value::Vector(vec![Value::String("a".into()), Value::String("bc".into())])),
        ("vector_mixed".into(), Value::Vector(vec![Value::Int(-5), Value::String("x".into()), Value::Float(1.5), Value::Bool(false)])),
        (
            "map_nested".into(),
            Value::Map(vec![
                ("axis".into(), Value::Int(-1)),
                ("name".into(), Value::String("detector".into())),
                ("scales".into(), Value::Vector(vec![Value::Float(0.5), Value::Float(2.0)])),
                ("sub".into(), Value::Map(vec![("x".into(), Value::Int(3))])),
            ]),
        ),
    ];
    let mut r = Rng::new(31);
    for i in 0..40 {
        v.push((format!("random_{i}"), random_value(&mut r, 3)));
    }
    v
}

pub fn flex_tier(root: &Path, python: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, outcomes: &mut Vec<Outcome>) {
    if !selected("flexbuffers/") {
        return;
    }
    let all = cases();
    let jobs: Vec<Json> = all
        .iter()
        .map(|(n, v)| json!({"name": n, "value": to_json(v), "ours": flexbuffers::to_bytes(v).iter().map(|b| format!("{b:02x}")).collect::<String>()}))
        .collect();
    // The select-TF options: [op name, NodeDef bytes] (ASCII here, as the
    // reference decodes strings as UTF-8).
    let flex = flexbuffers::flex_op_options("AddV2", b"\n\x03add\x12\x05AddV2");
    let (name, node_def) = flexbuffers::parse_flex_op_options(&flex).unwrap_or_default();
    let mut jobs = jobs;
    jobs.push(json!({"name": "flex_op_options", "value": [name, String::from_utf8_lossy(&node_def)],
        "ours": flex.iter().map(|b| format!("{b:02x}")).collect::<String>()}));
    let path = out.join("flex_cases.json");
    let fail = |detail: String| Outcome { name: "flexbuffers/reference".into(), status: "failed", detail };
    if let Err(e) = std::fs::write(&path, Json::Array(jobs.clone()).to_string()) {
        return outcomes.push(fail(e.to_string()));
    }
    let res = Command::new(python).arg(root.join("tests/conformance/py/flex_check.py")).arg(&path).output();
    let parsed: Json = match res {
        Ok(o) if o.status.success() => match serde_json::from_slice(&o.stdout) {
            Ok(v) => v,
            Err(e) => return outcomes.push(fail(format!("flex_check.py printed no JSON: {e}"))),
        },
        Ok(o) => return outcomes.push(fail(format!("flex_check.py failed: {}", String::from_utf8_lossy(&o.stderr)))),
        Err(e) => return outcomes.push(fail(format!("cannot start flex_check.py: {e}"))),
    };
    let mut identical = 0;
    for (n, v) in all.iter().map(|(n, v)| (n.clone(), Some(v))).chain([("flex_op_options".to_string(), None)]) {
        let name = format!("flexbuffers/{n}");
        let r = &parsed[&n];
        let mut problems: Vec<String> = r["problems"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(String::from)).collect();
        identical += usize::from(r["identical"].as_bool() == Some(true));
        if let Some(v) = v {
            let theirs: Vec<u8> = r["theirs"]
                .as_str()
                .unwrap_or("")
                .as_bytes()
                .chunks(2)
                .filter_map(|c| std::str::from_utf8(c).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect();
            match flexbuffers::parse(&theirs) {
                Ok(got) if same(&got, v) => {}
                Ok(got) => problems.push(format!("we decode Dumps(value) as {got:?}, expected {v:?}")),
                Err(e) => problems.push(format!("we cannot decode Dumps(value): {e}")),
            }
        }
        outcomes.push(if problems.is_empty() {
            Outcome { name, status: "passed", detail: String::new() }
        } else {
            Outcome { name, status: "failed", detail: problems.join("; ") }
        });
    }
    println!("flexbuffers: {identical} of {} encodings byte-identical to the reference's", all.len() + 1);
}

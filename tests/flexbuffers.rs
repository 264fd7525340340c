//! FlexBuffers reader and builder: round trips of random values, hostile
//! bytes that must give a typed error (never a panic), and reference-sharing
//! "bombs" that must hit a limit quickly.

use std::time::{Duration, Instant};

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use tflite_forge::flexbuffers::{self, FlexError, LimitKind, Limits, Value};

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Keys cannot hold NUL bytes.
fn key() -> impl Strategy<Value = String> {
    vec(any::<char>().prop_filter("NUL", |c| *c != '\0'), 0..6)
        .prop_map(|chars| chars.into_iter().collect())
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-300i64..300).prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(Value::Float),
        any::<f32>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(|f| Value::Float(f64::from(f))),
        key().prop_map(Value::Key),
        // Strings may hold NUL bytes: they are length-prefixed.
        vec(any::<char>(), 0..12).prop_map(|c| Value::String(c.into_iter().collect())),
        vec(any::<u8>(), 0..24).prop_map(Value::Blob),
        // Long enough for 2-byte lengths and offsets.
        vec(any::<u8>(), 250..700).prop_map(Value::Blob),
    ]
}

/// Random values nested at most 4 deep; maps have sorted, unique keys (as
/// decoding returns them).
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Vector),
            btree_map(key(), inner, 0..6).prop_map(|m| Value::Map(m.into_iter().collect())),
        ]
    })
}

fn small_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_depth = 3;
    limits.max_values = 20;
    limits.max_bytes = 64;
    limits
}

/// Parses with default and with small limits, without panicking, and
/// checks that the outcomes agree: smaller limits only reject more, an
/// accepted value re-encodes to bytes that decode to the same encoding,
/// Flex op options are accepted only when the value is an `[op, NodeDef]`
/// vector, and every rejection says why.
fn parse_both(bytes: &[u8]) {
    let full = flexbuffers::parse(bytes);
    let small = flexbuffers::parse_with(bytes, &small_limits());
    match (&full, &small) {
        (Ok(a), Ok(b)) => assert_eq!(flexbuffers::to_bytes(a), flexbuffers::to_bytes(b), "the limits changed the value"),
        (Err(_), Ok(_)) => panic!("accepted under small limits but rejected under the defaults"),
        (_, Err(e)) => assert!(!e.to_string().is_empty()),
    }
    if let Ok(v) = &full {
        let once = flexbuffers::to_bytes(v);
        let back = flexbuffers::parse(&once).expect("our encoding decodes");
        assert!(flexbuffers::to_bytes(&back) == once, "re-encoding is not stable");
    }
    match flexbuffers::parse_flex_op_options(bytes) {
        Ok((name, _)) => {
            let v = full.as_ref().expect("Flex options are a valid value");
            let items = v.as_vector().expect("Flex options are a vector");
            assert_eq!(items.first().and_then(|n| n.as_str()), Some(name.as_str()));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(v in value()) {
        let bytes = flexbuffers::to_bytes(&v);
        let back = flexbuffers::parse(&bytes);
        prop_assert_eq!(back.as_ref(), Ok(&v));
        // Deterministic: encoding the decoded value gives the same bytes.
        prop_assert_eq!(flexbuffers::to_bytes(&back.unwrap()), bytes);
    }

    #[test]
    fn flex_op_options_round_trip(name in "[A-Za-z0-9_]{0,40}", node_def in vec(any::<u8>(), 0..600)) {
        let bytes = flexbuffers::flex_op_options(&name, &node_def);
        prop_assert_eq!(flexbuffers::parse_flex_op_options(&bytes), Ok((name, node_def)));
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..128)) {
        parse_both(&bytes);
    }

    /// Random bytes ending in a valid root width and a container type, so
    /// decoding gets past the first checks more often.
    #[test]
    fn random_containers_never_panic(
        mut bytes in vec(any::<u8>(), 0..96),
        ty in prop_oneof![9u8..=25, Just(36u8)],
        bits in 0u8..4,
        root in prop_oneof![Just(1u8), Just(2), Just(4), Just(8)],
    ) {
        bytes.push((ty << 2) | bits);
        bytes.push(root);
        parse_both(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic(
        v in value(),
        edits in vec((any::<Index>(), any::<u8>()), 1..8),
        cut in any::<Index>(),
        trim in 0u8..3,
    ) {
        let mut bytes = flexbuffers::to_bytes(&v);
        for (at, byte) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        parse_both(&bytes);
        // Truncated from the front or the back.
        let cut = cut.index(bytes.len() + 1);
        match trim {
            0 => parse_both(&bytes[cut..]),
            1 => parse_both(&bytes[..cut]),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Bombs: tiny buffers describing huge trees
// ---------------------------------------------------------------------------

const VECTOR_W32: u8 = (10 << 2) | 2;
const STRING_W32: u8 = (5 << 2) | 2;

fn push_u32(buf: &mut Vec<u8>, v: usize) {
    buf.extend_from_slice(&u32::try_from(v).unwrap().to_le_bytes());
}

fn align4(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// Appends an untyped vector of 4-byte slots: `n` offsets all pointing at
/// `child`, each with packed type `child_type`. Returns where the vector's
/// elements start.
fn fan_out(buf: &mut Vec<u8>, child: usize, n: usize, child_type: u8) -> usize {
    align4(buf);
    push_u32(buf, n);
    let at = buf.len();
    for i in 0..n {
        push_u32(buf, at + 4 * i - child);
    }
    buf.extend(std::iter::repeat_n(child_type, n));
    at
}

/// Appends a 4-byte root slot pointing at `target`.
fn finish(mut buf: Vec<u8>, target: usize, root_type: u8) -> Vec<u8> {
    align4(&mut buf);
    let slot = buf.len();
    push_u32(&mut buf, slot - target);
    buf.extend_from_slice(&[root_type, 4]);
    buf
}

/// `levels` nested vectors, each of `fan` references to the one below; the
/// innermost is empty.
fn dag(levels: usize, fan: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    push_u32(&mut buf, 0);
    let mut child = buf.len();
    for _ in 0..levels {
        child = fan_out(&mut buf, child, fan, VECTOR_W32);
    }
    finish(buf, child, VECTOR_W32)
}

#[test]
fn small_dag_decodes_to_the_full_tree() {
    let bytes = dag(3, 4);
    let mut expected = Value::Vector(vec![]);
    for _ in 0..3 {
        expected = Value::Vector(vec![expected; 4]);
    }
    assert_eq!(flexbuffers::parse(&bytes), Ok(expected));
}

#[test]
fn dag_bomb_hits_the_value_limit_quickly() {
    // 8^20 values described in a few hundred bytes.
    let bytes = dag(20, 8);
    assert!(bytes.len() < 1024, "{} bytes", bytes.len());
    let start = Instant::now();
    let result = flexbuffers::parse(&bytes);
    let elapsed = start.elapsed();
    assert!(
        matches!(
            result,
            Err(FlexError::LimitExceeded {
                limit: LimitKind::Values,
                max: 1_000_000,
                ..
            })
        ),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");

    // A tighter limit stops it sooner.
    let mut limits = Limits::default();
    limits.max_values = 1000;
    assert!(matches!(
        flexbuffers::parse_with(&bytes, &limits),
        Err(FlexError::LimitExceeded {
            limit: LimitKind::Values,
            ..
        })
    ));
}

#[test]
fn dag_deeper_than_the_depth_limit_fails_on_depth() {
    let bytes = dag(100, 1);
    assert!(matches!(
        flexbuffers::parse(&bytes),
        Err(FlexError::LimitExceeded {
            limit: LimitKind::Depth,
            max: 64,
            ..
        })
    ));
    // 100 levels of references plus the empty innermost vector.
    let mut limits = Limits::default();
    limits.max_depth = 101;
    assert!(flexbuffers::parse_with(&bytes, &limits).is_ok());
    limits.max_depth = 100;
    assert!(flexbuffers::parse_with(&bytes, &limits).is_err());
}

#[test]
fn string_bomb_hits_the_byte_limit() {
    // One 50 kB string, referenced 200 times, referenced 200 times: 2 GB
    // of decoded text from a 55 kB buffer.
    let mut buf = Vec::new();
    push_u32(&mut buf, 50_000);
    let text = buf.len();
    buf.extend(std::iter::repeat_n(b'x', 50_000));
    buf.push(0);
    let inner = fan_out(&mut buf, text, 200, STRING_W32);
    let outer = fan_out(&mut buf, inner, 200, VECTOR_W32);
    let bytes = finish(buf, outer, VECTOR_W32);
    let start = Instant::now();
    let result = flexbuffers::parse(&bytes);
    assert!(
        matches!(
            result,
            Err(FlexError::LimitExceeded {
                limit: LimitKind::Bytes,
                ..
            })
        ),
        "{result:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn cycles_stop_at_the_depth_limit_without_recursion() {
    // A vector whose one element is an offset of 0: itself. Length 1 at 0,
    // the element slot at 1, its type byte (VECTOR) at 2; root slot at 3
    // pointing back 2 bytes to the vector.
    let cycle = [0x01, 0x00, 0x28, 0x02, 0x28, 0x01];
    assert!(matches!(
        flexbuffers::parse(&cycle),
        Err(FlexError::LimitExceeded {
            limit: LimitKind::Depth,
            max: 64,
            ..
        })
    ));
    // A huge depth limit must not overflow the stack (100 000 levels of
    // recursion would): the value limit still ends it.
    let mut limits = Limits::default();
    limits.max_depth = usize::MAX;
    limits.max_values = 100_000;
    assert!(matches!(
        flexbuffers::parse_with(&cycle, &limits),
        Err(FlexError::LimitExceeded {
            limit: LimitKind::Values,
            ..
        })
    ));
    // No containers at all with depth 0; scalars are still fine.
    limits.max_depth = 0;
    assert!(flexbuffers::parse_with(&cycle, &limits).is_err());
    let one = flexbuffers::to_bytes(&Value::Int(1));
    assert_eq!(flexbuffers::parse_with(&one, &limits), Ok(Value::Int(1)));
}

/// Found by fuzzing (fuzz/artifacts/metadata/crash-9a224ddf…): a map whose
/// entries are not in key order (as a file may hold them) encoded its keys
/// in file order, so re-encoding the decoded (sorted) map gave other bytes.
#[test]
fn map_encoding_does_not_depend_on_entry_order() {
    use tflite_forge::flexbuffers::{parse, to_bytes, Value};
    let unsorted = Value::Map(vec![
        ("a".into(), Value::Int(1)),
        ("b".into(), Value::Vector(vec![Value::Null, Value::Null])),
        ("".into(), Value::String(String::new())),
        ("".into(), Value::Bool(true)),
        ("e".into(), Value::Map(vec![("x".into(), Value::Int(-7))])),
    ]);
    let bytes = to_bytes(&unsorted);
    let back = parse(&bytes).unwrap();
    assert_eq!(to_bytes(&back), bytes);
    let raw = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions/flexbuffer_unsorted_map.bin")).unwrap();
    let v = parse(&raw).unwrap();
    let once = to_bytes(&v);
    assert_eq!(to_bytes(&parse(&once).unwrap()), once);
}

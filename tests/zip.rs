//! `tflite_forge::zip`: round trips, hostile inputs (random bytes and
//! mutated archives must give a typed error or a bounded archive, within
//! bounded allocation), hand-built unsupported archives and a cross-check
//! with Python's `zipfile`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::process::Command;

use proptest::prelude::*;
use proptest::sample::Index;
use tflite_forge::zip::{Entry, Limits, ZipError, append_stored, find_archive, find_archive_with};

// ---------------------------------------------------------------------------
// A global allocator that tracks each thread's live bytes and their peak, so
// that tests running in parallel do not disturb each other's measurements.

struct PerThreadCounting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: forwards every call to the system allocator and only counts sizes
// in const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for PerThreadCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: PerThreadCounting = PerThreadCounting;

/// Runs `f` and returns its result with the most bytes it had allocated at
/// once on this thread.
fn peak_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    let result = f();
    let peak = PEAK.with(Cell::get) - base;
    (result, peak.max(0) as usize)
}

// ---------------------------------------------------------------------------
// Helpers.

/// Bitwise CRC-32 (IEEE), independent of the crate's table-driven one.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn entry(name: &str, data: &[u8]) -> Entry {
    Entry {
        name: name.into(),
        data: data.to_vec(),
    }
}

fn read_back(bytes: &[u8]) -> Vec<Entry> {
    let archive = find_archive(bytes).unwrap().expect("an archive");
    archive.entries().iter().map(Entry::from).collect()
}

/// `prefix` followed by an archive of `entries`, with offsets absolute or
/// relative to the archive's start.
fn archive_after(prefix: &[u8], entries: &[Entry], absolute: bool) -> Vec<u8> {
    if absolute {
        let mut out = prefix.to_vec();
        append_stored(&mut out, entries).unwrap();
        out
    } else {
        let mut archive = Vec::new();
        append_stored(&mut archive, entries).unwrap();
        [prefix, &archive].concat()
    }
}

/// A one-entry archive built field by field, with absolute offsets after
/// `prefix`, so that tests can set fields `append_stored` never writes.
fn hand_built(
    prefix: &[u8],
    name: &[u8],
    data: &[u8],
    method: u16,
    flags: u16,
    crc: u32,
) -> Vec<u8> {
    fn put16(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn put32(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut out = prefix.to_vec();
    let size = data.len() as u32;
    let name_len = name.len() as u16;
    let local = out.len() as u32;
    put32(&mut out, 0x0403_4b50);
    for v in [20, flags, method, 0, 0x21] {
        put16(&mut out, v);
    }
    for v in [crc, size, size] {
        put32(&mut out, v);
    }
    put16(&mut out, name_len);
    put16(&mut out, 0);
    out.extend_from_slice(name);
    out.extend_from_slice(data);
    let cd = out.len() as u32;
    put32(&mut out, 0x0201_4b50);
    for v in [20, 20, flags, method, 0, 0x21] {
        put16(&mut out, v);
    }
    for v in [crc, size, size] {
        put32(&mut out, v);
    }
    for v in [name_len, 0, 0, 0, 0] {
        put16(&mut out, v);
    }
    put32(&mut out, 0);
    put32(&mut out, local);
    out.extend_from_slice(name);
    let cd_size = out.len() as u32 - cd;
    end_record(&mut out, 1, cd_size, cd);
    out
}

fn end_record(out: &mut Vec<u8>, count: u16, cd_size: u32, cd_offset: u32) {
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0, 0, count, count] {
        out.extend_from_slice(&u16::to_le_bytes(v));
    }
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
}

/// Position of the last occurrence of `needle` in `haystack`.
fn rfind(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .rposition(|w| w == needle)
        .expect("needle")
}

// ---------------------------------------------------------------------------
// Strategies.

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.-]{1,12}",
        "[a-z]{1,6}/[a-z0-9_.]{1,8}",
        "[a-zé漢字ß😀 ]{1,8}",
    ]
}

fn entries(max: usize, max_size: usize) -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::btree_map(
        name(),
        prop::collection::vec(any::<u8>(), 0..max_size),
        0..max,
    )
    .prop_map(|map: BTreeMap<String, Vec<u8>>| {
        map.into_iter()
            .map(|(name, data)| Entry { name, data })
            .collect()
    })
}

fn interesting_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(46),
        Just(0xFFFF),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        0u32..512,
        any::<u32>(),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Truncate(Index),
    SetU16(Index, u16),
    SetU32(Index, u32),
    Remove(Index),
    Insert(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), interesting_u32()).prop_map(|(i, v)| Mutation::SetU16(i, v as u16)),
        (any::<Index>(), interesting_u32()).prop_map(|(i, v)| Mutation::SetU32(i, v)),
        any::<Index>().prop_map(Mutation::Remove),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *mutation {
        Mutation::FlipBit(ref i, bit) => bytes[i.index(len)] ^= 1 << bit,
        Mutation::Truncate(ref i) => bytes.truncate(i.index(len)),
        Mutation::SetU16(ref i, v) => {
            let at = i.index(len).min(len.saturating_sub(2));
            let n = (len - at).min(2);
            bytes[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
        }
        Mutation::SetU32(ref i, v) => {
            let at = i.index(len).min(len.saturating_sub(4));
            let n = (len - at).min(4);
            bytes[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
        }
        Mutation::Remove(ref i) => {
            bytes.remove(i.index(len));
        }
        Mutation::Insert(ref i, b) => bytes.insert(i.index(len), b),
    }
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (0usize..4, 0u64..64).prop_map(|(max_entries, max_total_bytes)| {
            let mut limits = Limits::default();
            limits.max_entries = max_entries;
            limits.max_total_bytes = max_total_bytes;
            limits
        }),
    ]
}

/// Reads `bytes` and checks that it neither panics (proptest reports
/// panics) nor allocates more than a small multiple of the input, and that
/// an archive it accepts respects `limits` and borrows from `bytes`.
fn check_bounded(bytes: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    let (result, peak) = peak_allocation(|| find_archive_with(bytes, limits));
    let budget = 8 * bytes.len() + 4096;
    prop_assert!(
        peak <= budget,
        "allocated {peak} bytes for a {}-byte input",
        bytes.len()
    );
    if let Ok(Some(archive)) = result {
        prop_assert!(archive.entries().len() <= limits.max_entries);
        prop_assert!(archive.start() <= bytes.len());
        let total: u64 = archive.entries().iter().map(|e| e.data.len() as u64).sum();
        prop_assert!(total <= limits.max_total_bytes);
        let range = bytes.as_ptr_range();
        for e in archive.entries() {
            prop_assert!(range.start <= e.data.as_ptr() && e.data.as_ptr_range().end <= range.end);
            prop_assert!(!e.name.is_empty());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    #[test]
    fn round_trip(
        entries in entries(8, 300),
        prefix in prop::collection::vec(any::<u8>(), 0..500),
        absolute in any::<bool>(),
    ) {
        let bytes = archive_after(&prefix, &entries, absolute);
        let archive = find_archive(&bytes).unwrap().expect("an archive");
        prop_assert_eq!(archive.start(), prefix.len());
        let back: Vec<Entry> = archive.entries().iter().map(Entry::from).collect();
        prop_assert_eq!(back, entries);
    }

    #[test]
    fn random_bytes_are_bounded(
        mut bytes in prop::collection::vec(any::<u8>(), 0..2048),
        at in any::<Index>(),
        fields in prop::collection::vec(interesting_u32(), 4),
        limits in limits(),
    ) {
        check_bounded(&bytes, &limits)?;
        // Plant an end record with hostile fields near the end.
        if bytes.len() >= 22 {
            let at = bytes.len() - 22 - at.index((bytes.len() - 21).min(2000));
            let mut record = Vec::new();
            end_record(&mut record, fields[0] as u16, fields[1], fields[2]);
            record[20..22].copy_from_slice(&(fields[3] as u16).to_le_bytes());
            bytes[at..at + 22].copy_from_slice(&record);
            check_bounded(&bytes, &limits)?;
        }
    }

    #[test]
    fn mutated_archives_are_bounded(
        entries in entries(5, 64),
        prefix in prop::collection::vec(any::<u8>(), 0..64),
        absolute in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 1..5),
        limits in limits(),
    ) {
        let mut bytes = archive_after(&prefix, &entries, absolute);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check_bounded(&bytes, &limits)?;
    }
}

// ---------------------------------------------------------------------------
// Hand-built archives.

#[test]
fn hand_built_stored_archive_reads() {
    let bytes = hand_built(b"model", b"labels.txt", b"a\nb\n", 0, 0, crc32(b"a\nb\n"));
    assert_eq!(read_back(&bytes), [entry("labels.txt", b"a\nb\n")]);
}

#[test]
fn deflate_entry_is_unsupported() {
    let bytes = hand_built(b"model", b"labels.txt", b"\x03\x00", 8, 0, 0);
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::Compressed {
            name: "labels.txt".into(),
            method: 8
        }
    );
}

#[test]
fn encrypted_entry_is_unsupported() {
    let bytes = hand_built(b"", b"secret", b"xxxxxxxxxxxxx", 0, 1, 0);
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::Encrypted {
            name: "secret".into()
        }
    );
}

#[test]
fn names_must_be_ascii_or_flagged_utf8() {
    let data = b"x";
    let bytes = hand_built(b"", "é".as_bytes(), data, 0, 0, crc32(data));
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::NameNotAscii { index: 0 }
    );
    let bytes = hand_built(b"", "é".as_bytes(), data, 0, 1 << 11, crc32(data));
    assert_eq!(read_back(&bytes), [entry("é", data)]);
    let bytes = hand_built(b"", b"\xff\xfe", data, 0, 1 << 11, crc32(data));
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::NameNotUtf8 { index: 0 }
    );
    let bytes = hand_built(b"", b"", data, 0, 0, crc32(data));
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::EmptyName { index: 0 }
    );
}

#[test]
fn crc_mismatch_names_the_entry() {
    let mut bytes = archive_after(
        b"prefix",
        &[entry("a.txt", b"alpha"), entry("b.txt", b"beta")],
        true,
    );
    let at = rfind(&bytes, b"beta");
    bytes[at] = b'B';
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::CrcMismatch {
            name: "b.txt".into(),
            expected: crc32(b"beta"),
            actual: crc32(b"Beta")
        }
    );
}

#[test]
fn local_header_must_agree_with_central_directory() {
    let mut bytes = archive_after(b"", &[entry("a.txt", b"alpha")], true);
    bytes[30] = b'b'; // local name "b.txt"
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::LocalHeaderMismatch {
            name: "a.txt".into(),
            field: "name"
        }
    );
}

#[test]
fn duplicate_names_are_rejected() {
    let one = archive_after(b"", &[entry("a", b"1")], true);
    // Two copies of the same entry, then a central directory naming both.
    let local = &one[..32];
    let cd_start = rfind(&one, b"PK\x01\x02");
    let mut central = one[cd_start..one.len() - 22].to_vec();
    let mut bytes = [local, local].concat();
    central.extend_from_within(..);
    central[46 + 42..46 + 46].copy_from_slice(&32u32.to_le_bytes());
    let cd_offset = bytes.len() as u32;
    bytes.extend_from_slice(&central);
    end_record(&mut bytes, 2, central.len() as u32, cd_offset);
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::DuplicateName { name: "a".into() }
    );
}

#[test]
fn overlapping_entries_are_rejected() {
    // Entry "a" holds a complete local header and data of entry "b", and the
    // central directory lists both.
    let b_alone = archive_after(b"", &[entry("b", b"inner")], true);
    let b_local = &b_alone[..30 + 1 + 5];
    let mut b_central = b_alone[b_local.len()..b_alone.len() - 22].to_vec();
    b_central[42..46].copy_from_slice(&31u32.to_le_bytes());
    let a_alone = archive_after(b"", &[entry("a", b_local)], true);
    let cd_offset = 30 + 1 + b_local.len();
    let mut bytes = a_alone[..cd_offset + 47].to_vec();
    bytes.extend_from_slice(&b_central);
    end_record(&mut bytes, 2, 2 * 47, cd_offset as u32);
    assert_eq!(
        find_archive(&bytes).unwrap_err(),
        ZipError::Overlap {
            first: "a".into(),
            second: "b".into()
        }
    );
}

#[test]
fn end_record_claiming_65535_entries_in_a_tiny_file() {
    let mut bytes = b"tiny".to_vec();
    end_record(&mut bytes, u16::MAX, 0, 0);
    let (result, peak) = peak_allocation(|| find_archive(&bytes));
    assert!(matches!(result, Err(ZipError::Zip64 { .. })), "{result:?}");
    assert!(peak < 4096, "{peak}");

    let mut bytes = b"tiny".to_vec();
    end_record(&mut bytes, 65534, 0, 0);
    let (result, peak) = peak_allocation(|| find_archive(&bytes));
    assert_eq!(
        result.unwrap_err(),
        ZipError::TooManyEntries {
            count: 65534,
            size: 0,
            max: 0
        }
    );
    assert!(peak < 4096, "{peak}");

    let mut bytes = b"tiny".to_vec();
    end_record(&mut bytes, 65534, 65534 * 46, 0);
    let (result, peak) = peak_allocation(|| find_archive(&bytes));
    assert!(
        matches!(result, Err(ZipError::CentralDirectoryOutOfBounds { .. })),
        "{result:?}"
    );
    assert!(peak < 4096, "{peak}");
}

#[test]
fn zip64_and_multi_disk_are_rejected() {
    let mut bytes = archive_after(b"", &[entry("a", b"1")], true);
    let eocd = bytes.len() - 22;
    bytes[eocd + 4] = 1; // this disk = 1
    assert!(matches!(
        find_archive(&bytes).unwrap_err(),
        ZipError::MultiDisk { .. }
    ));

    // A ZIP64 end of central directory locator just before the end record.
    let mut bytes = archive_after(b"", &[entry("a", b"1")], true);
    let eocd = bytes.len() - 22;
    let mut locator = 0x0706_4b50u32.to_le_bytes().to_vec();
    locator.resize(20, 0);
    bytes.splice(eocd..eocd, locator);
    assert!(matches!(
        find_archive(&bytes).unwrap_err(),
        ZipError::Zip64 { .. }
    ));
}

#[test]
fn limits_are_enforced() {
    let bytes = archive_after(b"", &[entry("a", &[0; 100]), entry("b", &[0; 100])], true);
    let mut limits = Limits::default();
    limits.max_total_bytes = 150;
    assert_eq!(
        find_archive_with(&bytes, &limits).unwrap_err(),
        ZipError::LimitExceeded {
            what: "total entry bytes",
            actual: 200,
            limit: 150
        }
    );
    limits.max_total_bytes = 200;
    assert_eq!(
        find_archive_with(&bytes, &limits)
            .unwrap()
            .unwrap()
            .entries()
            .len(),
        2
    );
}

#[test]
fn too_many_entries_to_write() {
    let entries: Vec<Entry> = (0..65535)
        .map(|i| Entry {
            name: format!("{i}"),
            data: Vec::new(),
        })
        .collect();
    let mut out = Vec::new();
    assert_eq!(
        append_stored(&mut out, &entries).unwrap_err(),
        ZipError::TooLargeToWrite {
            what: "entry count",
            value: 65535,
            max: 65534
        }
    );
    assert!(out.is_empty());
    append_stored(&mut out, &entries[..65534]).unwrap();
    let mut limits = Limits::default();
    limits.max_entries = 65534;
    assert_eq!(
        find_archive_with(&out, &limits)
            .unwrap()
            .unwrap()
            .entries()
            .len(),
        65534
    );
}

// ---------------------------------------------------------------------------
// Cross-check with Python's zipfile.

const PYTHON_READ: &str = r#"
import sys, zipfile
for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            print(info.filename.encode("utf-8").hex(), z.read(info).hex())
    print("--")
"#;

const PYTHON_WRITE: &str = r#"
import sys, zipfile
with open(sys.argv[1], "wb") as f:
    f.write(b"model bytes " * 10)
with zipfile.ZipFile(sys.argv[1], "a") as z:
    z.writestr("labels.txt", b"cat\ndog\n")
    z.writestr("d\u00e9j\u00e0/vu.txt", bytes(range(256)))
    z.writestr("dir/", b"")
"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs a Python script, or returns `None` if `python3` cannot be spawned.
fn python(script: &str, args: &[&std::path::Path]) -> Option<String> {
    let output = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            println!("skipping the Python cross-check: cannot run python3: {e}");
            return None;
        }
    };
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

#[test]
fn python_zipfile_agrees() {
    let entries = [
        entry("labels.txt", b"cat\ndog\n"),
        entry("vocab/ünïcödé.txt", &(0..=255).collect::<Vec<u8>>()),
        entry("empty", b""),
        entry("dir/", b""),
    ];
    let dir = std::env::temp_dir();
    let id = std::process::id();
    let absolute = dir.join(format!("tflite-forge-zip-{id}-absolute.bin"));
    let relative = dir.join(format!("tflite-forge-zip-{id}-relative.bin"));
    let from_python = dir.join(format!("tflite-forge-zip-{id}-python.bin"));
    let prefix = b"TFL3 pretend model ".repeat(7);
    std::fs::write(&absolute, archive_after(&prefix, &entries, true)).unwrap();
    std::fs::write(&relative, archive_after(&prefix, &entries, false)).unwrap();

    let read = python(PYTHON_READ, &[&absolute, &relative]);
    let written = read
        .as_ref()
        .and_then(|_| python(PYTHON_WRITE, &[&from_python]));
    let python_bytes = written
        .as_ref()
        .map(|_| std::fs::read(&from_python).unwrap());
    for path in [&absolute, &relative, &from_python] {
        let _ = std::fs::remove_file(path);
    }
    let (Some(read), Some(python_bytes)) = (read, python_bytes) else {
        return;
    };

    let listing: String = entries
        .iter()
        .map(|e| format!("{} {}\n", hex(e.name.as_bytes()), hex(&e.data)))
        .collect();
    assert_eq!(read, format!("{listing}--\n{listing}--\n"));

    let archive = find_archive(&python_bytes)
        .unwrap()
        .expect("Python's archive");
    assert_eq!(archive.start(), 120);
    let back: Vec<Entry> = archive.entries().iter().map(Entry::from).collect();
    assert_eq!(
        back,
        [
            entry("labels.txt", b"cat\ndog\n"),
            entry("déjà/vu.txt", &(0..=255).collect::<Vec<u8>>()),
            entry("dir/", b""),
        ]
    );
}

//! Uncompressed ("stored") zip archives: a bounded reader and a
//! deterministic writer.
//!
//! TFLite Support metadata attaches *associated files* (label maps,
//! vocabularies, ...) to a model by appending an uncompressed zip archive
//! after the model's bytes, so the model file is also a valid zip, much like
//! a self-extracting archive. This module reads such archives without
//! copying their contents and writes them byte-for-byte reproducibly.
//!
//! Only what that use needs is supported: stored entries (compression
//! method 0), a single disk, no ZIP64 and no encryption. Anything else is a
//! typed [`ZipError`], never a panic. Reading is bounded by [`Limits`], and
//! every allocation is proportional to the size of the input.
//!
//! ```
//! use tflite_forge::zip::{append_stored, find_archive, Entry};
//!
//! let mut file = b"model bytes".to_vec();
//! let labels = Entry { name: "labels.txt".into(), data: b"cat\ndog\n".to_vec() };
//! append_stored(&mut file, &[labels]).unwrap();
//!
//! let archive = find_archive(&file).unwrap().expect("an archive");
//! assert_eq!(&file[..archive.start()], b"model bytes");
//! assert_eq!(archive.entries()[0].name, "labels.txt");
//! assert_eq!(archive.entries()[0].data, b"cat\ndog\n");
//! ```

use std::collections::HashSet;
use std::ops::Range;

use thiserror::Error;

/// One file in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file's name (a path with `/` separators).
    pub name: String,
    /// The file's contents.
    pub data: Vec<u8>,
}

/// Bounds on what [`find_archive_with`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most entries in the archive.
    pub max_entries: usize,
    /// Most bytes in all entries together.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    /// 10 000 entries and 4 GiB of contents.
    fn default() -> Self {
        Limits {
            max_entries: 10_000,
            max_total_bytes: 4 << 30,
        }
    }
}

/// Why an archive could not be read or written.
///
/// Offsets are byte positions in the buffer passed to [`find_archive`];
/// entry indices count central-directory records from 0.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ZipError {
    /// A record runs past the end of the space it must fit in.
    #[error("truncated {what} at byte {offset}: needs {needed} bytes, {available} available")]
    Truncated {
        /// The kind of record.
        what: &'static str,
        /// Where the record starts.
        offset: usize,
        /// Bytes the record needs.
        needed: usize,
        /// Bytes available for it.
        available: usize,
    },
    /// A record does not start with its signature.
    #[error("bad {what} signature at byte {offset}: found {found:#010x}")]
    BadSignature {
        /// The kind of record expected.
        what: &'static str,
        /// Where the record should start.
        offset: usize,
        /// The four bytes found there, little-endian.
        found: u32,
    },
    /// The end record places the central directory outside the buffer.
    #[error(
        "central directory of {size} bytes at offset {offset} does not fit before the end record at byte {end_record}"
    )]
    CentralDirectoryOutOfBounds {
        /// The central directory's offset, as recorded.
        offset: u32,
        /// The central directory's size, as recorded.
        size: u32,
        /// Where the end of central directory record starts.
        end_record: usize,
    },
    /// The central directory's records do not fill exactly its recorded size.
    #[error(
        "central directory records of {count} entries take {parsed} bytes, but its recorded size is {size}"
    )]
    CentralDirectorySize {
        /// Entries in the central directory.
        count: usize,
        /// Bytes those entries' records take.
        parsed: usize,
        /// The central directory's recorded size.
        size: usize,
    },
    /// The end record claims more entries than its central directory can hold.
    #[error(
        "end record claims {count} entries, but a {size}-byte central directory holds at most {max}"
    )]
    TooManyEntries {
        /// Entries claimed.
        count: u16,
        /// The central directory's recorded size.
        size: u32,
        /// Entries that fit in that size (46 bytes each at least).
        max: u32,
    },
    /// An entry's local header or data lies outside the bytes before the
    /// central directory.
    #[error(
        "entry {name:?}: bytes {start}..{end} lie outside the {limit} bytes before the central directory"
    )]
    EntryOutOfBounds {
        /// The entry's name.
        name: String,
        /// Start of the out-of-bounds range.
        start: u64,
        /// End of the out-of-bounds range.
        end: u64,
        /// Where the central directory starts.
        limit: usize,
    },
    /// Two entries' local headers or data overlap.
    #[error("entries {first:?} and {second:?} overlap")]
    Overlap {
        /// The entry that starts first.
        first: String,
        /// The entry that starts inside it.
        second: String,
    },
    /// An entry is compressed; only stored entries are supported.
    #[error(
        "entry {name:?} uses compression method {method}; only stored (method 0) entries are supported"
    )]
    Compressed {
        /// The entry's name.
        name: String,
        /// Its compression method (8 is deflate).
        method: u16,
    },
    /// An entry is encrypted.
    #[error("entry {name:?} is encrypted, which is not supported")]
    Encrypted {
        /// The entry's name.
        name: String,
    },
    /// A stored entry whose compressed and uncompressed sizes differ.
    #[error(
        "stored entry {name:?} has compressed size {compressed} but uncompressed size {uncompressed}"
    )]
    StoredSizeMismatch {
        /// The entry's name.
        name: String,
        /// Its compressed size.
        compressed: u32,
        /// Its uncompressed size.
        uncompressed: u32,
    },
    /// An entry's local header disagrees with its central directory record.
    #[error("entry {name:?}: the local header's {field} disagrees with the central directory")]
    LocalHeaderMismatch {
        /// The entry's name.
        name: String,
        /// The field that differs.
        field: &'static str,
    },
    /// An entry's contents do not match its CRC-32.
    #[error("entry {name:?}: CRC-32 of the contents is {actual:#010x}, expected {expected:#010x}")]
    CrcMismatch {
        /// The entry's name.
        name: String,
        /// The recorded CRC-32.
        expected: u32,
        /// The CRC-32 of the stored bytes.
        actual: u32,
    },
    /// Two entries have the same name.
    #[error("duplicate entry name {name:?}")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// An entry has an empty name.
    #[error("entry {index} has an empty name")]
    EmptyName {
        /// The entry's index.
        index: usize,
    },
    /// An entry's name is flagged UTF-8 but is not valid UTF-8.
    #[error("entry {index}: name is flagged UTF-8 (bit 11) but is not valid UTF-8")]
    NameNotUtf8 {
        /// The entry's index.
        index: usize,
    },
    /// An entry's name is not ASCII and not flagged UTF-8, so it would be
    /// CP437, which is not supported.
    #[error(
        "entry {index}: name is not ASCII and the UTF-8 flag (bit 11) is not set; CP437 names are not supported"
    )]
    NameNotAscii {
        /// The entry's index.
        index: usize,
    },
    /// The archive uses ZIP64 records, which are not supported.
    #[error("ZIP64 archives are not supported: {detail} at byte {offset}")]
    Zip64 {
        /// What revealed ZIP64.
        detail: &'static str,
        /// Where.
        offset: usize,
    },
    /// The archive spans several disks, which is not supported.
    #[error("multi-disk archives are not supported: {detail} at byte {offset}")]
    MultiDisk {
        /// What revealed several disks.
        detail: &'static str,
        /// Where.
        offset: usize,
    },
    /// The archive exceeds one of the [`Limits`].
    #[error("limit exceeded: {what} is {actual}, limit {limit}")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The archive's value (at least).
        actual: u64,
        /// The limit.
        limit: u64,
    },
    /// The archive would need ZIP64 records to be written.
    #[error("cannot write without ZIP64: {what} is {value}, at most {max} is allowed")]
    TooLargeToWrite {
        /// What is too large.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The largest value allowed.
        max: u64,
    },
}

/// A zip archive found in a buffer, borrowing its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive<'a> {
    start: usize,
    entries: Vec<ArchiveEntry<'a>>,
}

/// One file in an [`Archive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry<'a> {
    /// The file's name.
    pub name: String,
    /// The file's stored bytes, whose CRC-32 has been checked.
    pub data: &'a [u8],
}

impl From<&ArchiveEntry<'_>> for Entry {
    fn from(entry: &ArchiveEntry<'_>) -> Entry {
        Entry {
            name: entry.name.clone(),
            data: entry.data.to_vec(),
        }
    }
}

impl<'a> Archive<'a> {
    /// Byte offset in the buffer where the archive's first local header
    /// starts: the end of the data that precedes the archive. For an archive
    /// without entries, where its central directory starts.
    ///
    /// ```
    /// use tflite_forge::zip::{append_stored, find_archive, Entry};
    ///
    /// let mut file = vec![7u8; 100];
    /// append_stored(&mut file, &[Entry { name: "a".into(), data: vec![1, 2] }]).unwrap();
    /// assert_eq!(find_archive(&file).unwrap().unwrap().start(), 100);
    /// ```
    pub fn start(&self) -> usize {
        self.start
    }

    /// The archive's entries, in central-directory order.
    ///
    /// ```
    /// use tflite_forge::zip::{append_stored, find_archive, Entry};
    ///
    /// let entries = [
    ///     Entry { name: "b.txt".into(), data: b"bee".to_vec() },
    ///     Entry { name: "a.txt".into(), data: b"ay".to_vec() },
    /// ];
    /// let mut file = Vec::new();
    /// append_stored(&mut file, &entries).unwrap();
    /// let archive = find_archive(&file).unwrap().unwrap();
    /// let names: Vec<&str> = archive.entries().iter().map(|e| e.name.as_str()).collect();
    /// assert_eq!(names, ["b.txt", "a.txt"]);
    /// ```
    pub fn entries(&self) -> &[ArchiveEntry<'a>] {
        &self.entries
    }
}

// ---------------------------------------------------------------------------
// Format constants (PKWARE APPNOTE).

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const END_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;

const LOCAL_LEN: usize = 30;
const CENTRAL_LEN: usize = 46;
const END_LEN: usize = 22;
const ZIP64_LOCATOR_LEN: usize = 20;
const MAX_COMMENT: usize = u16::MAX as usize;

/// General purpose flag bits: encrypted, data descriptor, strong
/// encryption, UTF-8 names, masked local header.
const FLAG_ENCRYPTED: u16 = 1 << 0;
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
const FLAG_UTF8: u16 = 1 << 11;
const FLAG_MASKED_HEADER: u16 = 1 << 13;
const ENCRYPTION_FLAGS: u16 = FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADER;

/// Values that stand for "see the ZIP64 record".
const ZIP64_U16: u16 = u16::MAX;
const ZIP64_U32: u32 = u32::MAX;

/// 1980-01-01 00:00 in MS-DOS format: (year - 1980) << 9 | month << 5 | day.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
/// Version 2.0, MS-DOS host (so external attributes are DOS attributes).
const VERSION_MADE_BY: u16 = 20;
const VERSION_FILE: u16 = 10;
const VERSION_DIRECTORY: u16 = 20;
const DOS_DIRECTORY_ATTR: u32 = 0x10;

// ---------------------------------------------------------------------------
// CRC-32 (IEEE, reflected, polynomial 0xEDB88320).

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        CRC_TABLE[usize::from(c as u8 ^ b)] ^ (c >> 8)
    })
}

// ---------------------------------------------------------------------------
// Reading.

/// Finds a zip archive at the end of `bytes`, with default [`Limits`].
///
/// Data may precede the archive, and the archive's offsets may count from
/// the start of `bytes` or from the start of the archive. Returns `Ok(None)`
/// if there is no end of central directory record, and an error if there is
/// one but the archive is broken or unsupported.
///
/// ```
/// use tflite_forge::zip::{append_stored, find_archive, Entry};
///
/// assert!(find_archive(b"just a model").unwrap().is_none());
///
/// let mut file = b"just a model".to_vec();
/// append_stored(&mut file, &[Entry { name: "vocab.txt".into(), data: b"a b c".to_vec() }]).unwrap();
/// let archive = find_archive(&file).unwrap().unwrap();
/// assert_eq!(archive.entries()[0].data, b"a b c");
/// ```
pub fn find_archive(bytes: &[u8]) -> Result<Option<Archive<'_>>, ZipError> {
    find_archive_with(bytes, &Limits::default())
}

/// Finds a zip archive at the end of `bytes`, within `limits`.
///
/// The end of central directory record is searched for backwards over the
/// last 22 + 65535 bytes. The last one whose comment reaches exactly the end
/// of `bytes` is taken. If none does, the last one that is followed by its
/// whole comment, is consistent with the buffer and lists at least one
/// entry is taken (bytes were appended after the archive), and if none is,
/// there is no archive (`Ok(None)`): a stray signature in the data is not an
/// error.
///
/// ```
/// use tflite_forge::zip::{append_stored, find_archive_with, Entry, Limits, ZipError};
///
/// let entries: Vec<Entry> =
///     (0..3).map(|i| Entry { name: format!("f{i}"), data: vec![i; 10] }).collect();
/// let mut file = Vec::new();
/// append_stored(&mut file, &entries).unwrap();
///
/// let mut limits = Limits::default();
/// limits.max_entries = 2;
/// assert!(matches!(
///     find_archive_with(&file, &limits),
///     Err(ZipError::LimitExceeded { what: "entries", .. })
/// ));
/// ```
pub fn find_archive_with<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<Option<Archive<'a>>, ZipError> {
    match locate_end_record(bytes)? {
        Some(end) => read_archive(bytes, &end, limits).map(Some),
        None => Ok(None),
    }
}

/// The parts of the end of central directory record the reader needs,
/// already checked against the buffer.
#[derive(Debug)]
struct EndRecord {
    /// Where the record starts (and so where the central directory ends).
    offset: usize,
    /// Number of entries.
    count: usize,
    /// Where the central directory starts.
    cd_start: usize,
    /// Bytes before the archive's offset 0 (0 if offsets are absolute).
    prefix: usize,
}

fn locate_end_record(bytes: &[u8]) -> Result<Option<EndRecord>, ZipError> {
    let Some(last) = bytes.len().checked_sub(END_LEN) else {
        return Ok(None);
    };
    let first = last.saturating_sub(MAX_COMMENT);
    let mut fallback = None;
    for offset in (first..=last).rev() {
        if read_u32(bytes, offset) != Some(END_SIG) {
            continue;
        }
        let comment_len = read_u16(bytes, offset + 20).map_or(0, usize::from);
        let record_end = offset + END_LEN + comment_len;
        if record_end == bytes.len() {
            return parse_end_record(bytes, offset).map(Some);
        }
        // Bytes after the comment, as when something was appended to the
        // archive: take the record only if it is consistent and leads to a
        // central directory header, so that a stray signature followed by
        // zeros is not taken for an empty archive.
        if fallback.is_none() && record_end < bytes.len() {
            fallback = parse_end_record(bytes, offset)
                .ok()
                .filter(|end| end.count > 0);
        }
    }
    Ok(fallback)
}

fn parse_end_record(bytes: &[u8], offset: usize) -> Result<EndRecord, ZipError> {
    let r: &[u8; END_LEN] = fixed(
        bytes,
        offset,
        bytes.len(),
        "end of central directory record",
    )?;
    check_zip64_locator(bytes, offset)?;
    let (disk, cd_disk) = (le16(r, 4), le16(r, 6));
    let (disk_count, count) = (le16(r, 8), le16(r, 10));
    let (cd_size, cd_offset) = (le32(r, 12), le32(r, 16));
    if [disk, cd_disk, disk_count, count].contains(&ZIP64_U16)
        || [cd_size, cd_offset].contains(&ZIP64_U32)
    {
        return Err(ZipError::Zip64 {
            detail: "end record field set to its ZIP64 marker",
            offset,
        });
    }
    if disk != 0 || cd_disk != 0 || disk_count != count {
        return Err(ZipError::MultiDisk {
            detail: "end record names another disk",
            offset,
        });
    }
    let out_of_bounds = ZipError::CentralDirectoryOutOfBounds {
        offset: cd_offset,
        size: cd_size,
        end_record: offset,
    };
    let cd_start = offset
        .checked_sub(cd_size as usize)
        .ok_or(out_of_bounds.clone())?;
    let prefix = cd_start
        .checked_sub(cd_offset as usize)
        .ok_or(out_of_bounds)?;
    let max = cd_size / CENTRAL_LEN as u32;
    if u32::from(count) > max {
        return Err(ZipError::TooManyEntries {
            count,
            size: cd_size,
            max,
        });
    }
    if count > 0 {
        expect_signature(bytes, cd_start, CENTRAL_SIG, "central directory header")?;
    }
    Ok(EndRecord {
        offset,
        count: usize::from(count),
        cd_start,
        prefix,
    })
}

fn check_zip64_locator(bytes: &[u8], end_offset: usize) -> Result<(), ZipError> {
    let Some(offset) = end_offset.checked_sub(ZIP64_LOCATOR_LEN) else {
        return Ok(());
    };
    if read_u32(bytes, offset) == Some(ZIP64_LOCATOR_SIG) {
        return Err(ZipError::Zip64 {
            detail: "ZIP64 end of central directory locator",
            offset,
        });
    }
    Ok(())
}

fn read_archive<'a>(
    bytes: &'a [u8],
    end: &EndRecord,
    limits: &Limits,
) -> Result<Archive<'a>, ZipError> {
    check_limit("entries", end.count as u64, limits.max_entries as u64)?;
    let mut entries = Vec::with_capacity(end.count);
    let mut spans = Vec::with_capacity(end.count);
    let mut offset = end.cd_start;
    let mut total = 0u64;
    for index in 0..end.count {
        let header = CentralHeader::parse(bytes, offset, end.offset, index)?;
        offset = header.next;
        total += u64::from(header.size);
        check_limit("total entry bytes", total, limits.max_total_bytes)?;
        let (span, data) = read_local(bytes, end, &header)?;
        entries.push(ArchiveEntry {
            name: header.name,
            data,
        });
        spans.push(span);
    }
    if offset != end.offset {
        let (parsed, size) = (offset - end.cd_start, end.offset - end.cd_start);
        return Err(ZipError::CentralDirectorySize {
            count: end.count,
            parsed,
            size,
        });
    }
    check_duplicates(entries.iter().map(|e| e.name.as_str()))?;
    check_overlaps(&spans, &entries)?;
    let start = spans.iter().map(|s| s.start).fold(end.cd_start, usize::min);
    Ok(Archive { start, entries })
}

/// A central directory header, checked on its own.
struct CentralHeader<'a> {
    name: String,
    raw_name: &'a [u8],
    method: u16,
    crc: u32,
    size: u32,
    local_offset: u32,
    /// Where the next header starts.
    next: usize,
}

impl<'a> CentralHeader<'a> {
    fn parse(
        bytes: &'a [u8],
        offset: usize,
        cd_end: usize,
        index: usize,
    ) -> Result<Self, ZipError> {
        let h: &[u8; CENTRAL_LEN] = fixed(bytes, offset, cd_end, "central directory header")?;
        expect_signature(bytes, offset, CENTRAL_SIG, "central directory header")?;
        let flags = le16(h, 8);
        let name_len = usize::from(le16(h, 28));
        let variable = name_len + usize::from(le16(h, 30)) + usize::from(le16(h, 32));
        let full = bytes
            .get(offset..cd_end)
            .and_then(|rest| rest.get(..CENTRAL_LEN + variable))
            .ok_or(ZipError::Truncated {
                what: "central directory header",
                offset,
                needed: CENTRAL_LEN + variable,
                available: cd_end - offset,
            })?;
        let raw_name = &full[CENTRAL_LEN..CENTRAL_LEN + name_len];
        let name = decode_name(raw_name, flags, index)?;
        let (compressed, size, local_offset) = (le32(h, 20), le32(h, 24), le32(h, 42));
        if [compressed, size, local_offset].contains(&ZIP64_U32) || le16(h, 34) == ZIP64_U16 {
            return Err(ZipError::Zip64 {
                detail: "central directory field set to its ZIP64 marker",
                offset,
            });
        }
        if le16(h, 34) != 0 {
            return Err(ZipError::MultiDisk {
                detail: "entry starts on another disk",
                offset,
            });
        }
        let header = CentralHeader {
            name,
            raw_name,
            method: le16(h, 10),
            crc: le32(h, 16),
            size,
            local_offset,
            next: offset + full.len(),
        };
        header.check_supported(flags, compressed)?;
        Ok(header)
    }

    fn check_supported(&self, flags: u16, compressed: u32) -> Result<(), ZipError> {
        let name = || self.name.clone();
        if flags & ENCRYPTION_FLAGS != 0 {
            return Err(ZipError::Encrypted { name: name() });
        }
        if self.method != 0 {
            return Err(ZipError::Compressed {
                name: name(),
                method: self.method,
            });
        }
        if compressed != self.size {
            return Err(ZipError::StoredSizeMismatch {
                name: name(),
                compressed,
                uncompressed: self.size,
            });
        }
        Ok(())
    }
}

/// Checks an entry's local header against its central directory header and
/// returns the span of header and data and the data itself.
fn read_local<'a>(
    bytes: &'a [u8],
    end: &EndRecord,
    cd: &CentralHeader<'_>,
) -> Result<(Range<usize>, &'a [u8]), ZipError> {
    let start = end.prefix as u64 + u64::from(cd.local_offset);
    let header = span(start, LOCAL_LEN as u64, end.cd_start, cd)?;
    let h: &[u8; LOCAL_LEN] = fixed(bytes, header.start, end.cd_start, "local file header")?;
    expect_signature(bytes, header.start, LOCAL_SIG, "local file header")?;
    let variable = u64::from(le16(h, 26)) + u64::from(le16(h, 28));
    let header = span(start, LOCAL_LEN as u64 + variable, end.cd_start, cd)?;
    let data = span(header.end as u64, u64::from(cd.size), end.cd_start, cd)?;
    let raw_name = &bytes[header.start + LOCAL_LEN..][..usize::from(le16(h, 26))];
    let extra = &bytes[header.start + LOCAL_LEN + raw_name.len()..header.end];
    check_local_fields(h, raw_name, extra, cd)?;
    let data_bytes = &bytes[data.clone()];
    let actual = crc32(data_bytes);
    if actual != cd.crc {
        return Err(ZipError::CrcMismatch {
            name: cd.name.clone(),
            expected: cd.crc,
            actual,
        });
    }
    Ok((header.start..data.end, data_bytes))
}

fn check_local_fields(
    h: &[u8; LOCAL_LEN],
    raw_name: &[u8],
    extra: &[u8],
    cd: &CentralHeader<'_>,
) -> Result<(), ZipError> {
    let flags = le16(h, 6);
    if flags & ENCRYPTION_FLAGS != 0 {
        return Err(ZipError::Encrypted {
            name: cd.name.clone(),
        });
    }
    let mismatch = |field| {
        Err(ZipError::LocalHeaderMismatch {
            name: cd.name.clone(),
            field,
        })
    };
    if raw_name != cd.raw_name {
        return mismatch("name");
    }
    if le16(h, 8) != cd.method {
        return mismatch("compression method");
    }
    // With a data descriptor, the local CRC and sizes may be zero; the
    // central directory's values are the ones that count.
    if flags & FLAG_DATA_DESCRIPTOR == 0 {
        if le32(h, 14) != cd.crc {
            return mismatch("CRC-32");
        }
        // Python's zipfile (and so NumPy's `np.savez`) may write small
        // entries with ZIP64 local sizes: both fields 0xFFFFFFFF and the
        // real sizes in a ZIP64 extra field.
        if le32(h, 18) == u32::MAX && le32(h, 22) == u32::MAX {
            return match zip64_local_sizes(extra) {
                Some((u, c)) if u == u64::from(cd.size) && c == u64::from(cd.size) => Ok(()),
                _ => mismatch("ZIP64 sizes"),
            };
        }
        if le32(h, 18) != cd.size {
            return mismatch("compressed size");
        }
        if le32(h, 22) != cd.size {
            return mismatch("uncompressed size");
        }
    }
    Ok(())
}

/// The uncompressed and compressed sizes of a local header's ZIP64 extra
/// field (header ID 1), if it has one.
fn zip64_local_sizes(mut extra: &[u8]) -> Option<(u64, u64)> {
    while extra.len() >= 4 {
        let id = u16::from_le_bytes([extra[0], extra[1]]);
        let len = usize::from(u16::from_le_bytes([extra[2], extra[3]]));
        let body = extra.get(4..4 + len)?;
        if id == 1 {
            let u = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
            let c = u64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
            return Some((u, c));
        }
        extra = &extra[4 + len..];
    }
    None
}

/// `start..start + len` as a range of positions before `limit`.
fn span(
    start: u64,
    len: u64,
    limit: usize,
    cd: &CentralHeader<'_>,
) -> Result<Range<usize>, ZipError> {
    let end = start + len;
    if end > limit as u64 {
        return Err(ZipError::EntryOutOfBounds {
            name: cd.name.clone(),
            start,
            end,
            limit,
        });
    }
    // Both are at most `limit`, a `usize`.
    Ok(start as usize..end as usize)
}

fn decode_name(raw: &[u8], flags: u16, index: usize) -> Result<String, ZipError> {
    if raw.is_empty() {
        return Err(ZipError::EmptyName { index });
    }
    if flags & FLAG_UTF8 != 0 {
        return std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| ZipError::NameNotUtf8 { index });
    }
    if !raw.is_ascii() {
        return Err(ZipError::NameNotAscii { index });
    }
    // ASCII is UTF-8.
    Ok(String::from_utf8_lossy(raw).into_owned())
}

fn check_duplicates<'n>(names: impl Iterator<Item = &'n str>) -> Result<(), ZipError> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(ZipError::DuplicateName {
                name: name.to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks that no two entries' local header and data spans overlap.
fn check_overlaps(spans: &[Range<usize>], entries: &[ArchiveEntry<'_>]) -> Result<(), ZipError> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_unstable_by_key(|&i| spans[i].start);
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if spans[b].start < spans[a].end {
            let (first, second) = (entries[a].name.clone(), entries[b].name.clone());
            return Err(ZipError::Overlap { first, second });
        }
    }
    Ok(())
}

fn check_limit(what: &'static str, actual: u64, limit: u64) -> Result<(), ZipError> {
    if actual > limit {
        return Err(ZipError::LimitExceeded {
            what,
            actual,
            limit,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Byte access.

/// The `N` bytes at `offset`, which must end by `limit`.
fn fixed<'a, const N: usize>(
    bytes: &'a [u8],
    offset: usize,
    limit: usize,
    what: &'static str,
) -> Result<&'a [u8; N], ZipError> {
    bytes
        .get(offset..limit)
        .and_then(|rest| rest.get(..N))
        .and_then(|b| b.try_into().ok())
        .ok_or(ZipError::Truncated {
            what,
            offset,
            needed: N,
            available: limit.saturating_sub(offset),
        })
}

fn expect_signature(
    bytes: &[u8],
    offset: usize,
    sig: u32,
    what: &'static str,
) -> Result<(), ZipError> {
    match read_u32(bytes, offset) {
        Some(found) if found == sig => Ok(()),
        Some(found) => Err(ZipError::BadSignature {
            what,
            offset,
            found,
        }),
        None => Err(ZipError::Truncated {
            what,
            offset,
            needed: 4,
            available: bytes.len().saturating_sub(offset),
        }),
    }
}

fn read_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    let b = bytes.get(offset..)?.get(..2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..)?.get(..4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn le16<const N: usize>(record: &[u8; N], at: usize) -> u16 {
    u16::from_le_bytes([record[at], record[at + 1]])
}

fn le32<const N: usize>(record: &[u8; N], at: usize) -> u32 {
    u32::from_le_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
}

// ---------------------------------------------------------------------------
// Writing.

/// Appends a stored (uncompressed) archive of `entries` to `out`.
///
/// The current length of `out` is the archive's offset. Offsets in the
/// archive are absolute from the start of `out`, so the whole buffer is a
/// valid zip file. The output is deterministic: fixed DOS timestamp
/// 1980-01-01 00:00, no extra fields or comments, version needed 1.0 (2.0
/// for directory names ending in `/`), the UTF-8 flag (bit 11) set on names
/// that are not ASCII, entries in the given order.
///
/// Names must be non-empty and distinct. Without ZIP64, the archive may hold
/// at most 65534 entries and every size and offset must stay below 4 GiB;
/// otherwise [`ZipError::TooLargeToWrite`]. On error `out` is unchanged.
///
/// ```
/// use tflite_forge::zip::{append_stored, Entry, ZipError};
///
/// let mut out = b"prefix".to_vec();
/// append_stored(&mut out, &[Entry { name: "étiquettes.txt".into(), data: b"x".to_vec() }]).unwrap();
/// assert_eq!(&out[6..10], b"PK\x03\x04");
/// assert_eq!(&out[out.len() - 22..][..4], b"PK\x05\x06");
///
/// let twice = [Entry { name: "a".into(), data: vec![] }, Entry { name: "a".into(), data: vec![] }];
/// assert!(matches!(append_stored(&mut out, &twice), Err(ZipError::DuplicateName { .. })));
/// ```
pub fn append_stored(out: &mut Vec<u8>, entries: &[Entry]) -> Result<(), ZipError> {
    let archive = stored_archive(out.len() as u64, entries)?;
    out.extend_from_slice(&archive);
    Ok(())
}

/// The bytes [`append_stored`] appends to a file of `start` bytes: a stored
/// archive whose offsets are absolute from the file's start.
pub(crate) fn stored_archive(start: u64, entries: &[Entry]) -> Result<Vec<u8>, ZipError> {
    let plan = plan(start, entries)?;
    let mut out = Vec::with_capacity(usize::try_from(plan.end - start).unwrap_or(0));
    // Checked by `plan`: every offset stays below 4 GiB.
    let at = |out: &Vec<u8>| (start + out.len() as u64) as u32;
    let mut records = Vec::with_capacity(entries.len());
    for entry in entries {
        let record = Record::new(entry, at(&out));
        record.write_local(&mut out);
        out.extend_from_slice(&entry.data);
        records.push(record);
    }
    let cd_offset = at(&out);
    let cd_start = out.len();
    for record in &records {
        record.write_central(&mut out);
    }
    let cd_size = out.len() - cd_start;
    write_end_record(&mut out, entries.len() as u16, cd_size as u32, cd_offset);
    Ok(out)
}

/// Where an archive of `entries` written at `start` will end, once every
/// limit of the format without ZIP64 has been checked.
struct Plan {
    end: u64,
}

fn plan(start: u64, entries: &[Entry]) -> Result<Plan, ZipError> {
    const MAX_COUNT: u64 = ZIP64_U16 as u64 - 1;
    const MAX_U32: u64 = ZIP64_U32 as u64 - 1;
    too_large("entry count", entries.len() as u64, MAX_COUNT)?;
    check_duplicates(entries.iter().map(|e| e.name.as_str()))?;
    let mut offset = start;
    let mut cd_size = 0u64;
    for (index, entry) in entries.iter().enumerate() {
        if entry.name.is_empty() {
            return Err(ZipError::EmptyName { index });
        }
        let name_len = entry.name.len() as u64;
        too_large("name length", name_len, u64::from(u16::MAX))?;
        too_large("entry size", entry.data.len() as u64, MAX_U32)?;
        too_large("local header offset", offset, MAX_U32)?;
        offset += LOCAL_LEN as u64 + name_len + entry.data.len() as u64;
        cd_size += CENTRAL_LEN as u64 + name_len;
    }
    too_large("central directory offset", offset, MAX_U32)?;
    too_large("central directory size", cd_size, MAX_U32)?;
    Ok(Plan {
        end: offset + cd_size + END_LEN as u64,
    })
}

fn too_large(what: &'static str, value: u64, max: u64) -> Result<(), ZipError> {
    if value > max {
        return Err(ZipError::TooLargeToWrite { what, value, max });
    }
    Ok(())
}

/// The header fields of one entry being written.
struct Record<'e> {
    name: &'e str,
    version: u16,
    flags: u16,
    external_attrs: u32,
    crc: u32,
    size: u32,
    offset: u32,
}

impl<'e> Record<'e> {
    /// `entry` has passed [`plan`], so its sizes and `offset` fit.
    fn new(entry: &'e Entry, offset: u32) -> Self {
        let directory = entry.name.ends_with('/');
        Record {
            name: &entry.name,
            version: if directory {
                VERSION_DIRECTORY
            } else {
                VERSION_FILE
            },
            flags: if entry.name.is_ascii() { 0 } else { FLAG_UTF8 },
            external_attrs: if directory { DOS_DIRECTORY_ATTR } else { 0 },
            crc: crc32(&entry.data),
            size: entry.data.len() as u32,
            offset,
        }
    }

    fn write_local(&self, out: &mut Vec<u8>) {
        put32(out, LOCAL_SIG);
        put16(out, self.version);
        self.put_common(out);
        out.extend_from_slice(self.name.as_bytes());
    }

    fn write_central(&self, out: &mut Vec<u8>) {
        put32(out, CENTRAL_SIG);
        put16(out, VERSION_MADE_BY);
        put16(out, self.version);
        self.put_common(out);
        put16(out, 0); // comment length
        put16(out, 0); // disk number start
        put16(out, 0); // internal attributes
        put32(out, self.external_attrs);
        put32(out, self.offset);
        out.extend_from_slice(self.name.as_bytes());
    }

    /// Flags through extra field length, shared by both headers.
    fn put_common(&self, out: &mut Vec<u8>) {
        put16(out, self.flags);
        put16(out, 0); // method: stored
        put16(out, DOS_TIME);
        put16(out, DOS_DATE);
        put32(out, self.crc);
        put32(out, self.size); // compressed
        put32(out, self.size); // uncompressed
        put16(out, self.name.len() as u16);
        put16(out, 0); // extra field length
    }
}

fn write_end_record(out: &mut Vec<u8>, count: u16, cd_size: u32, cd_offset: u32) {
    put32(out, END_SIG);
    put16(out, 0); // this disk
    put16(out, 0); // disk with the central directory
    put16(out, count); // entries on this disk
    put16(out, count); // entries in total
    put32(out, cd_size);
    put32(out, cd_offset);
    put16(out, 0); // comment length
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
    }

    #[test]
    fn round_trip_after_prefix() {
        let entries = [
            entry("labels.txt", b"cat\ndog\n"),
            entry("empty", b""),
            entry("dir/", b""),
            entry("dir/vocab.txt", &[0u8, 1, 2, 255].repeat(100)),
        ];
        let mut file: Vec<u8> = (0..100).collect();
        append_stored(&mut file, &entries).unwrap();
        let archive = find_archive(&file).unwrap().unwrap();
        assert_eq!(archive.start(), 100);
        assert_eq!(read_back(&file), entries);
    }

    #[test]
    fn empty_archive() {
        let mut file = vec![1u8; 10];
        append_stored(&mut file, &[]).unwrap();
        assert_eq!(file.len(), 10 + END_LEN);
        let archive = find_archive(&file).unwrap().unwrap();
        assert!(archive.entries().is_empty());
        assert_eq!(archive.start(), 10);

        let mut alone = Vec::new();
        append_stored(&mut alone, &[]).unwrap();
        assert_eq!(find_archive(&alone).unwrap().unwrap().start(), 0);
    }

    #[test]
    fn non_ascii_names_set_the_utf8_flag() {
        let entries = [entry("ラベル.txt", b"x"), entry("plain.txt", b"y")];
        let mut file = Vec::new();
        append_stored(&mut file, &entries).unwrap();
        assert_eq!(read_u16(&file, 6), Some(FLAG_UTF8));
        let second = LOCAL_LEN + "ラベル.txt".len() + 1;
        assert_eq!(read_u16(&file, second + 6), Some(0));
        assert_eq!(read_back(&file), entries);
    }

    #[test]
    fn relative_offsets() {
        let entries = [entry("a.txt", b"alpha"), entry("b.txt", b"beta")];
        let mut archive = Vec::new();
        append_stored(&mut archive, &entries).unwrap();
        let mut file = vec![0xAB; 37];
        file.extend_from_slice(&archive);
        let found = find_archive(&file).unwrap().unwrap();
        assert_eq!(found.start(), 37);
        assert_eq!(read_back(&file), entries);
    }

    #[test]
    fn no_archive() {
        assert_eq!(find_archive(b"").unwrap(), None);
        assert_eq!(find_archive(&[0u8; 1000]).unwrap(), None);
        // A stray signature that does not parse is not an archive.
        let mut bytes = vec![0xFFu8; 100];
        bytes[50..54].copy_from_slice(b"PK\x05\x06");
        assert_eq!(find_archive(&bytes).unwrap(), None);
        // Nor is one followed by zeros, which would read as an empty archive.
        bytes[54..72].fill(0);
        assert_eq!(find_archive(&bytes).unwrap(), None);
        // But a signature whose comment ends exactly at the end is the end
        // record, and errors are reported.
        bytes.truncate(72);
        bytes[58..60].copy_from_slice(&1u16.to_le_bytes());
        bytes[60..62].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(
            find_archive(&bytes).unwrap_err(),
            ZipError::TooManyEntries {
                count: 1,
                size: 0,
                max: 0
            }
        );
    }

    #[test]
    fn trailing_bytes_fall_back_to_a_consistent_end_record() {
        let entries = [entry("a", b"1")];
        let mut file = b"model".to_vec();
        append_stored(&mut file, &entries).unwrap();
        file.extend_from_slice(b"junk");
        assert_eq!(read_back(&file), entries);
    }

    #[test]
    fn writer_is_deterministic_and_layout_is_fixed() {
        let entries = [entry("a", b"xyz")];
        let mut one = Vec::new();
        let mut two = Vec::new();
        append_stored(&mut one, &entries).unwrap();
        append_stored(&mut two, &entries).unwrap();
        assert_eq!(one, two);
        assert_eq!(one.len(), LOCAL_LEN + 1 + 3 + CENTRAL_LEN + 1 + END_LEN);
        assert_eq!(read_u16(&one, 4), Some(VERSION_FILE));
        assert_eq!(read_u16(&one, 10), Some(DOS_TIME));
        assert_eq!(read_u16(&one, 12), Some(DOS_DATE));
    }

    #[test]
    fn writer_rejects_bad_names_and_leaves_out_unchanged() {
        let mut out = b"keep".to_vec();
        let err = append_stored(&mut out, &[entry("a", b""), entry("", b"")]).unwrap_err();
        assert_eq!(err, ZipError::EmptyName { index: 1 });
        let err = append_stored(&mut out, &[entry("a", b""), entry("a", b"")]).unwrap_err();
        assert_eq!(err, ZipError::DuplicateName { name: "a".into() });
        let long = "n".repeat(70_000);
        let err = append_stored(&mut out, &[entry(&long, b"")]).unwrap_err();
        assert!(matches!(
            err,
            ZipError::TooLargeToWrite {
                what: "name length",
                ..
            }
        ));
        assert_eq!(out, b"keep");
    }

    #[test]
    fn data_descriptor_uses_central_sizes() {
        let mut file = Vec::new();
        append_stored(&mut file, &[entry("a", b"hello")]).unwrap();
        // Set bit 3 and zero the local CRC and sizes, as streaming writers do.
        file[6] |= FLAG_DATA_DESCRIPTOR as u8;
        file[14..26].fill(0);
        assert_eq!(read_back(&file), [entry("a", b"hello")]);
    }
}

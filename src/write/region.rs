//! The data region: where buffer bytes go after the flatbuffer's tables, and
//! the one routine that emits a file (tables, region, large constants) to
//! any `io::Write`, so that bytes in memory and a streamed file are equal.
//!
//! Buffer data is not copied into the flatbuffer builder. The builder makes
//! only the tables; each `Buffer.data` field holds an offset computed from
//! this layout, which puts every buffer after the tables as a flatbuffer
//! byte vector (`[u32 length][bytes]`) whose bytes start 16-byte aligned,
//! followed by [`TAIL`] zero bytes. The tables' length is a multiple of 16,
//! so alignment in the region is alignment in the file.

use std::io::{self, Write};

use super::{align_up, TAIL};
use crate::model::ConstData;

/// Where each buffer's length prefix lies, relative to the region's start.
pub(super) struct Region {
    /// Per buffer index: the offset of its `[u32 length]` prefix, or `None`
    /// for buffers that are empty or stored elsewhere.
    pub(super) at: Vec<Option<u64>>,
    /// Bytes in the region, the zero tail included.
    pub(super) len: u64,
}

impl Region {
    /// Lays out the buffers `(index, size)` given, in order, among `n`.
    pub(super) fn new(n: usize, sizes: impl IntoIterator<Item = (usize, u64)>) -> Region {
        let mut at = vec![None; n];
        let mut pos = 0u64;
        for (k, size) in sizes {
            if size == 0 {
                continue;
            }
            let data = align_up(pos + 4);
            at[k] = Some(data - 4);
            pos = data + size;
        }
        Region { at, len: align_up(pos) + TAIL as u64 }
    }
}

/// One buffer's bytes on their way out: shared constants are let go once
/// written, which frees them when the model was given up.
pub(super) enum Bytes {
    /// A constant of the model.
    Const(ConstData),
    /// Bytes made by the writer (metadata).
    Owned(Vec<u8>),
}

impl Bytes {
    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Const(c) => c.as_bytes(),
            Bytes::Owned(v) => v,
        }
    }
}

/// Counts what has been written, to pad to absolute offsets.
struct Counting<'w, W: Write> {
    out: &'w mut W,
    at: u64,
}

impl<W: Write> Counting<'_, W> {
    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.at += b.len() as u64;
        Ok(())
    }

    fn zeros_to(&mut self, to: u64) -> io::Result<()> {
        const ZEROS: [u8; 256] = [0; 256];
        while self.at < to {
            let n = (to - self.at).min(ZEROS.len() as u64) as usize;
            self.bytes(&ZEROS[..n])?;
        }
        Ok(())
    }
}

/// Writes the file: `tables`, then the region's buffers, then the buffers
/// placed at absolute offsets (`places`, the large-model layout), then the
/// zero tail. `buffers` gives each buffer by index; each is dropped as soon
/// as it is written. Returns the number of bytes written.
pub(super) fn emit<W: Write>(
    out: &mut W,
    tables: &[u8],
    region: &Region,
    buffers: Vec<Bytes>,
    places: &[Option<u64>],
) -> io::Result<u64> {
    let mut w = Counting { out, at: 0 };
    w.bytes(tables)?;
    let start = w.at;
    let mut later = Vec::new();
    for (k, b) in buffers.into_iter().enumerate() {
        match (region.at.get(k).copied().flatten(), places.get(k).copied().flatten()) {
            (Some(at), _) => {
                w.zeros_to(start + at)?;
                let len = u32::try_from(b.as_slice().len()).map_err(|_| io::Error::other("a buffer over 4 GiB inside the flatbuffer"))?;
                w.bytes(&len.to_le_bytes())?;
                w.bytes(b.as_slice())?;
            }
            (None, Some(place)) => later.push((place, b)),
            (None, None) => {}
        }
    }
    w.zeros_to(start + region.len)?;
    for (place, b) in later {
        w.zeros_to(place)?;
        w.bytes(b.as_slice())?;
    }
    if places.iter().any(Option::is_some) {
        let end = align_up(w.at) + TAIL as u64;
        w.zeros_to(end)?;
    }
    Ok(w.at)
}

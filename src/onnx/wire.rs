//! A non-recursive pre-check of the protobuf wire format. The protobuf
//! parser bounds the nesting of messages, but skips unknown *groups*
//! recursively without a bound, so a small hostile file made of nested
//! group tags overflows the stack. This walks the ONNX message tree with
//! an explicit stack and rejects group nesting deeper than a limit.

/// Deepest group nesting accepted (ONNX itself uses no groups).
const MAX_GROUP_DEPTH: u32 = 32;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Msg {
    Model,
    Graph,
    Node,
    Attribute,
    Tensor,
    SparseTensor,
    ValueInfo,
    Type,
    TypeTensor,
    TypeElem,
    TypeMap,
    Shape,
    Training,
    Function,
    Leaf,
}

/// The message type of field `field` of a `msg`, if it is a message.
fn child(msg: Msg, field: u64) -> Option<Msg> {
    use Msg::*;
    Some(match (msg, field) {
        (Model, 7) => Graph,
        (Model, 8 | 14) => Leaf,
        (Model, 20) => Training,
        (Model, 25) => Function,
        (Graph, 1) => Node,
        (Graph, 5) => Tensor,
        (Graph, 15) => SparseTensor,
        (Graph, 11..=13) => ValueInfo,
        (Graph, 14 | 16) => Leaf,
        (Node, 5) => Attribute,
        (Node, 9 | 10) => Leaf,
        (Attribute, 5 | 10) => Tensor,
        (Attribute, 6 | 11) => Graph,
        (Attribute, 22 | 23) => SparseTensor,
        (Attribute, 14 | 15) => Type,
        (Tensor, 3 | 13 | 16) => Leaf,
        (SparseTensor, 1 | 2) => Tensor,
        (ValueInfo, 2) => Type,
        (ValueInfo, 4) => Leaf,
        (Type, 1 | 8) => TypeTensor,
        (Type, 4 | 9) => TypeElem,
        (Type, 5) => TypeMap,
        (TypeTensor, 2) => Shape,
        (TypeElem, 1) => Type,
        (TypeMap, 2) => Type,
        (Shape, 1) => Leaf,
        (Training, 1 | 2) => Graph,
        (Training, 3 | 4) => Leaf,
        (Function, 7) => Node,
        (Function, 11) => Attribute,
        (Function, 12) => ValueInfo,
        (Function, 9 | 14) => Leaf,
        _ => return None,
    })
}

/// The state of the scanner between two bytes of the stream.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Reading a field's tag varint.
    Tag { acc: u64, shift: u32 },
    /// Reading the value of a varint field.
    Varint { shift: u32 },
    /// Reading the length of a length-delimited field.
    Len { field: u64, acc: u64, shift: u32 },
    /// Skipping a field's remaining bytes.
    Skip(u64),
}

/// Checks the group nesting of an ONNX `ModelProto` incrementally, as its
/// bytes arrive, so that a stream can be checked on its way to the parser.
///
/// The scanner follows the message tree in stream order with an explicit
/// stack of (message, end offset). When the bytes are malformed it stops
/// checking: the parser reads fields in the same order and rejects the
/// stream at that point, before it could recurse into anything after it.
#[derive(Debug)]
pub(crate) struct GroupCheck {
    pos: u64,
    frames: Vec<(Msg, u64)>,
    state: State,
    group_depth: u32,
    malformed: bool,
}

impl GroupCheck {
    /// A check at the start of a `ModelProto`.
    pub(crate) fn new() -> GroupCheck {
        GroupCheck { pos: 0, frames: vec![(Msg::Model, u64::MAX)], state: State::Tag { acc: 0, shift: 0 }, group_depth: 0, malformed: false }
    }

    /// Scans the next bytes of the stream.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut i = 0;
        while i < bytes.len() && !self.malformed {
            if let State::Skip(n) = self.state {
                let k = n.min((bytes.len() - i) as u64);
                i += k as usize;
                self.pos += k;
                self.state = if n == k { State::Tag { acc: 0, shift: 0 } } else { State::Skip(n - k) };
                if n == k {
                    self.at_field_boundary();
                }
                continue;
            }
            let byte = bytes[i];
            i += 1;
            self.pos += 1;
            self.state = match self.state {
                State::Tag { acc, shift } => match accumulate(acc, shift, byte) {
                    Step::More(acc, shift) => State::Tag { acc, shift },
                    Step::Done(tag) => self.on_tag(tag)?,
                    Step::Bad => return Ok(self.give_up()),
                },
                State::Varint { shift } => match accumulate(0, shift, byte) {
                    Step::More(_, shift) => State::Varint { shift },
                    Step::Done(_) => self.field_done(),
                    Step::Bad => return Ok(self.give_up()),
                },
                State::Len { field, acc, shift } => match accumulate(acc, shift, byte) {
                    Step::More(acc, shift) => State::Len { field, acc, shift },
                    Step::Done(len) => self.on_len(field, len),
                    Step::Bad => return Ok(self.give_up()),
                },
                // Handled before reading a byte.
                skip @ State::Skip(_) => skip,
            };
        }
        Ok(())
    }

    fn give_up(&mut self) {
        self.malformed = true;
    }

    /// The next state after a complete tag.
    fn on_tag(&mut self, tag: u64) -> Result<State, String> {
        let (field, wire) = (tag >> 3, tag & 7);
        Ok(match wire {
            0 => State::Varint { shift: 0 },
            1 => State::Skip(8),
            2 => State::Len { field, acc: 0, shift: 0 },
            3 => {
                self.group_depth += 1;
                if self.group_depth > MAX_GROUP_DEPTH {
                    return Err(format!("protobuf groups nested deeper than {MAX_GROUP_DEPTH}"));
                }
                self.field_done()
            }
            4 if self.group_depth > 0 => {
                self.group_depth -= 1;
                self.field_done()
            }
            5 => State::Skip(4),
            _ => {
                self.give_up();
                State::Tag { acc: 0, shift: 0 }
            }
        })
    }

    /// The next state after the length of a length-delimited field: a known
    /// child message is entered, anything else is skipped.
    fn on_len(&mut self, field: u64, len: u64) -> State {
        let Some(&(msg, end)) = self.frames.last() else {
            self.give_up();
            return State::Tag { acc: 0, shift: 0 };
        };
        let Some(child_end) = self.pos.checked_add(len).filter(|e| *e <= end) else {
            self.give_up();
            return State::Tag { acc: 0, shift: 0 };
        };
        match child(msg, field) {
            Some(m) if self.group_depth == 0 && len > 0 => {
                self.frames.push((m, child_end));
                State::Tag { acc: 0, shift: 0 }
            }
            _ if len > 0 => State::Skip(len),
            _ => self.field_done(),
        }
    }

    /// A field ended: leave the messages that end here.
    fn field_done(&mut self) -> State {
        self.at_field_boundary();
        State::Tag { acc: 0, shift: 0 }
    }

    fn at_field_boundary(&mut self) {
        while let Some(&(_, end)) = self.frames.last() {
            if self.pos < end {
                break;
            }
            if self.pos > end || self.group_depth > 0 {
                // A field ran past its message, or a group was left open.
                self.give_up();
                return;
            }
            self.frames.pop();
        }
    }
}

enum Step {
    More(u64, u32),
    Done(u64),
    Bad,
}

/// One byte of a varint.
fn accumulate(acc: u64, shift: u32, byte: u8) -> Step {
    if shift >= 64 {
        return Step::Bad;
    }
    let acc = acc | (u64::from(byte & 0x7f) << shift);
    if byte & 0x80 == 0 {
        Step::Done(acc)
    } else {
        Step::More(acc, shift + 7)
    }
}

/// Checks the group nesting of an ONNX `ModelProto` in `bytes`.
pub(crate) fn check_groups(bytes: &[u8]) -> Result<(), String> {
    GroupCheck::new().feed(bytes)
}

/// A reader that checks the group nesting of the ONNX bytes it passes on,
/// failing the read that would hand the parser a group nested too deep.
pub(crate) struct CheckedReader<R> {
    inner: R,
    check: GroupCheck,
}

impl<R> CheckedReader<R> {
    /// Wraps `inner`, which must start at the beginning of a `ModelProto`.
    pub(crate) fn new(inner: R) -> Self {
        CheckedReader { inner, check: GroupCheck::new() }
    }
}

impl<R: std::io::Read> std::io::Read for CheckedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.check.feed(&buf[..n]).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn deep_groups_are_rejected_and_shallow_ones_pass() {
        // field 30, START_GROUP = (30 << 3) | 3 = 243 → varint [0xf3, 0x01]
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend([0xf3, 0x01]);
        }
        assert!(super::check_groups(&deep).is_err());
        let mut shallow = Vec::new();
        for _ in 0..3 {
            shallow.extend([0xf3, 0x01]);
        }
        for _ in 0..3 {
            shallow.extend([0xf4, 0x01]);
        }
        assert!(super::check_groups(&shallow).is_ok());
        // Groups hidden inside a graph's node's attribute are found too.
        let mut attr = Vec::new();
        for _ in 0..40 {
            attr.extend([0xf3, 0x01]);
        }
        let node = [&[0x2a, attr.len() as u8][..], &attr].concat(); // attribute = 5
        let graph = [&[0x0a, node.len() as u8][..], &node].concat(); // node = 1
        let model = [&[0x3a, graph.len() as u8][..], &graph].concat(); // graph = 7
        assert!(super::check_groups(&model).is_err());
        // Fed one byte at a time, the incremental check agrees.
        for (bytes, deep) in [(&deep, true), (&shallow, false), (&model, true)] {
            let mut c = super::GroupCheck::new();
            let fails = bytes.iter().any(|b| c.feed(std::slice::from_ref(b)).is_err());
            assert_eq!(fails, deep);
        }
    }

    #[test]
    fn the_checked_reader_fails_the_read_that_carries_a_deep_group() {
        use std::io::Read;
        let mut attr = Vec::new();
        for _ in 0..40 {
            attr.extend([0xf3, 0x01]);
        }
        let node = [&[0x2a, attr.len() as u8][..], &attr].concat();
        let graph = [&[0x0a, node.len() as u8][..], &node].concat();
        let model = [&[0x3a, graph.len() as u8][..], &graph].concat();
        let mut r = super::CheckedReader::new(&model[..]);
        let mut buf = Vec::new();
        let err = r.read_to_end(&mut buf).expect_err("deep groups");
        assert!(err.to_string().contains("nested deeper"), "{err}");
        // A well-formed stream passes through unchanged.
        let ok = [&[0x3a, 4, 0x0a, 2, 0x0a, 0][..]].concat();
        let mut out = Vec::new();
        super::CheckedReader::new(&ok[..]).read_to_end(&mut out).expect("read");
        assert_eq!(out, ok);
    }
}

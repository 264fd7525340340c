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

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Skips one field's value. Returns `None` when the bytes are malformed
/// (the parser will say so), and the new depth change for group tags.
fn skip(b: &[u8], pos: &mut usize, wire: u64) -> Option<()> {
    match wire {
        0 => varint(b, pos).map(|_| ()),
        1 => {
            *pos = pos.checked_add(8).filter(|p| *p <= b.len())?;
            Some(())
        }
        2 => {
            let len = usize::try_from(varint(b, pos)?).ok()?;
            *pos = pos.checked_add(len).filter(|p| *p <= b.len())?;
            Some(())
        }
        5 => {
            *pos = pos.checked_add(4).filter(|p| *p <= b.len())?;
            Some(())
        }
        _ => None,
    }
}

/// Checks the group nesting of an ONNX `ModelProto` in `bytes`.
pub(crate) fn check_groups(bytes: &[u8]) -> Result<(), String> {
    let mut stack: Vec<(&[u8], Msg)> = vec![(bytes, Msg::Model)];
    while let Some((b, msg)) = stack.pop() {
        let mut pos = 0;
        'fields: while pos < b.len() {
            let Some(tag) = varint(b, &mut pos) else { break };
            let (field, wire) = (tag >> 3, tag & 7);
            match wire {
                2 => {
                    let start = pos;
                    if skip(b, &mut pos, 2).is_none() {
                        break;
                    }
                    if let Some(m) = child(msg, field) {
                        // The payload starts after its length varint.
                        let mut p = start;
                        if varint(b, &mut p).is_some() {
                            stack.push((&b[p..pos], m));
                        }
                    }
                }
                3 => {
                    // An unknown group: walk it without recursion.
                    let mut depth = 1u32;
                    while depth > 0 {
                        let Some(t) = varint(b, &mut pos) else { break 'fields };
                        match t & 7 {
                            3 => {
                                depth += 1;
                                if depth > MAX_GROUP_DEPTH {
                                    return Err(format!("protobuf groups nested deeper than {MAX_GROUP_DEPTH}"));
                                }
                            }
                            4 => depth -= 1,
                            w => {
                                if skip(b, &mut pos, w).is_none() {
                                    break 'fields;
                                }
                            }
                        }
                    }
                }
                w => {
                    if skip(b, &mut pos, w).is_none() {
                        break;
                    }
                }
            }
        }
    }
    Ok(())
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
    }
}

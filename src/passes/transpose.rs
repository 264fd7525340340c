//! Transpose sinking: pushes TRANSPOSE ops toward the outputs through ops
//! that commute with them (elementwise, concatenation, mean, pad, softmax
//! over a fixed last axis, order-preserving reshapes), composes consecutive
//! transposes and drops identities. Run to a fixed point, it removes the
//! NCHW↔NHWC pairs the ONNX lowering wraps around layout-bound ops.

use super::graph::*;
use crate::model::*;

/// How a consumer takes a transposed input.
enum Sink {
    /// Another transpose: compose.
    Compose,
    /// Elementwise on one input (or a softmax with the last axis fixed).
    Unary,
    /// Elementwise binary; the other operand is transposed alike or constant.
    Binary,
    /// Concatenation of transposed-alike or constant inputs.
    Concat,
    /// MEAN with constant axes.
    Mean,
    /// PAD with constant paddings.
    Pad,
    /// A reshape that reads the same memory order either way.
    Reshape,
    /// A reshape that only inserts or removes size-1 axes: the transpose
    /// goes on, in the new rank, after the same reshape of `x`.
    UnitReshape,
    /// The same with a shape computed at run time from the shape of `y`
    /// or `x` (SHAPE, STRIDED_SLICE, CONCATENATION and constant 1s).
    RuntimeUnitReshape,
    /// TILE with constant multiples.
    Tile,
    /// STRIDED_SLICE with constant begin/end/strides and plain masks.
    StridedSlice,
    /// SPLIT_V along a constant axis (several outputs).
    Split,
    /// GATHER of constant 1-D indices along an axis.
    Gather,
    /// SHAPE: the shape of `x`, gathered by the permutation.
    Shape,
}

fn unary_op(op: &Op) -> bool {
    matches!(
        op,
        Op::Relu
            | Op::Relu6
            | Op::Logistic
            | Op::Tanh
            | Op::HardSwish
            | Op::Dequantize
            | Op::Quantize
            | Op::LeakyRelu { .. }
            | Op::Gelu { .. }
            | Op::Exp
            | Op::Sqrt
            | Op::Rsqrt
            | Op::Neg
            | Op::Abs
            | Op::Log
            | Op::Sin
            | Op::Cos
            | Op::LogicalNot
            | Op::Cast(_)
            | Op::Round
            | Op::Floor
            | Op::Ceil
    )
}

fn binary_op(op: &Op) -> bool {
    matches!(op, Op::Add(_) | Op::Sub(_) | Op::Mul(_) | Op::Div(_) | Op::Minimum | Op::Maximum | Op::Pow | Op::FloorMod | Op::Prelu)
}

/// Whether an operand is the same transpose's output, another transpose
/// with the same permutation, or a constant that can be permuted.
fn operand_ok(sg: &Subgraph, uses: &Uses, t: TensorId, y: TensorId, p: &[usize], rank: usize, ready: &[TensorId]) -> bool {
    if t == y || ready.contains(&t) {
        return true;
    }
    // The output of a unary op on `y` is sunk in the same step (x · σ(x)).
    if let Some(i) = uses.producer[t.index()] {
        let op = &sg.operators[i];
        if op.input(0) == Some(y) && op.inputs.len() == 1 && unary_op(&op.op) {
            return true;
        }
    }
    let tensor = &sg.tensors[t.index()];
    if tensor.is_constant() {
        return tensor.shape.rank() <= rank && permuted_constant(tensor, rank, &inverse(p)).is_some();
    }
    if layout_free(&tensor.shape, &inverse(p)) {
        return true;
    }
    match uses.producer[t.index()] {
        Some(i) => perm_of(sg, &sg.operators[i]).as_deref() == Some(p),
        None => false,
    }
}

/// Whether `T_p` of a tensor of shape `s` is the tensor itself: the same
/// shape and the same memory order (e.g. `[n, 1, 1, 1]` under NCHW↔NHWC,
/// the keep-dims statistics of a layer norm over C, H, W).
fn layout_free(s: &Shape, p: &[usize]) -> bool {
    s.rank() == p.len() && permute_shape(s, p) == *s && order_preserving(s, p)
}

/// Whether a reshape of `T_p(x)` reads `x` in the same order: `T_p` moves
/// only size-1 axes, so it moves no data.
pub(super) fn order_preserving(x: &Shape, p: &[usize]) -> bool {
    let mut last = None;
    for &a in p {
        if x.dims()[a] == Dim::Fixed(1) {
            continue;
        }
        if last.is_some_and(|l| l > a) {
            return false;
        }
        last = Some(a);
    }
    true
}

/// For a reshape of `T_p(x)` to `zs` that only inserts or removes size-1
/// axes (the other sizes keep their order; at most one dynamic size on
/// each side): the shape of the same reshape applied to `x` (`x`'s sizes other
/// than 1 in `x`'s order, each followed by the size-1 axes that follow its
/// image in `zs`) and the permutation `q` with `T_q(x') = z`.
fn unit_reshape(xs: &Shape, p: &[usize], zs: &Shape) -> Option<(Shape, Vec<usize>)> {
    let (xd, zd) = (xs.dims(), zs.dims());
    let dynamic = |ds: &[Dim]| ds.iter().filter(|d| **d == Dim::Dynamic).count();
    // One unknown size on each side, at the same place among the sizes
    // other than 1 (checked below): equal, as the element counts are.
    if xd.len() != p.len() || dynamic(xd) > 1 || dynamic(zd) > 1 {
        return None;
    }
    let unit = |d: &Dim| *d == Dim::Fixed(1);
    // The x axes behind y's sizes other than 1, in y's order.
    let y_axes: Vec<usize> = p.iter().copied().filter(|a| !unit(&xd[*a])).collect();
    let z_axes: Vec<usize> = (0..zd.len()).filter(|k| !unit(&zd[*k])).collect();
    if y_axes.len() != z_axes.len() || y_axes.iter().zip(&z_axes).any(|(a, k)| xd[*a] != zd[*k]) {
        return None;
    }
    // The size-1 axes of z after each of its other axes (None: leading).
    let mut follows: Vec<(Option<usize>, usize)> = Vec::new();
    let mut prev = None;
    for (k, d) in zd.iter().enumerate() {
        if unit(d) {
            follows.push((prev, k));
        } else {
            prev = Some(k);
        }
    }
    let mut order: Vec<usize> = follows.iter().filter(|(f, _)| f.is_none()).map(|(_, k)| *k).collect();
    for a in (0..xd.len()).filter(|a| !unit(&xd[*a])) {
        let j = y_axes.iter().position(|b| *b == a)?;
        let k = z_axes[j];
        order.push(k);
        order.extend(follows.iter().filter(|(f, _)| *f == Some(k)).map(|(_, u)| *u));
    }
    if order.len() != zd.len() {
        return None;
    }
    let shape = Shape::from_dims(order.iter().map(|k| zd[*k]).collect());
    let q: Vec<usize> = (0..zd.len()).map(|k| order.iter().position(|o| *o == k)).collect::<Option<_>>()?;
    Some((shape, q))
}

/// An entry of a shape vector computed at run time.
#[derive(Clone, Copy, PartialEq)]
enum Entry {
    Known(i64),
    /// The size of an axis of `y`.
    Axis(usize),
}

/// The entries of the int32 shape vector `s` when it is built from the
/// shapes of `y` or `x` (`y = T_p(x)`) and constants by SHAPE,
/// STRIDED_SLICE (one axis, stride 1, no masks) and CONCATENATION.
fn shape_entries(sg: &Subgraph, uses: &Uses, s: TensorId, y: TensorId, x: TensorId, p: &[usize], depth: usize) -> Option<Vec<Entry>> {
    if let Some(v) = const_ints(sg, s) {
        return Some(v.into_iter().map(Entry::Known).collect());
    }
    if depth > 6 {
        return None;
    }
    let node = &sg.operators[uses.producer[s.index()]?];
    match &node.op {
        Op::Shape(_) => {
            let src = node.input(0)?;
            let inv = inverse(p);
            // A unary op keeps the sizes: x's may be read before one.
            let mut before_x = x;
            for _ in 0..8 {
                if src == before_x {
                    break;
                }
                let Some(k) = uses.producer[before_x.index()] else { break };
                let op = &sg.operators[k];
                match op.input(0) {
                    Some(i) if unary_op(&op.op) && op.inputs.len() == 1 && sg.tensors[i.index()].shape == sg.tensors[before_x.index()].shape => before_x = i,
                    _ => break,
                }
            }
            if src == y {
                Some((0..p.len()).map(Entry::Axis).collect())
            } else if src == before_x {
                Some(inv.iter().map(|j| Entry::Axis(*j)).collect())
            } else {
                None
            }
        }
        Op::StridedSlice(o) if o.begin_mask == 0 && o.end_mask == 0 && o.ellipsis_mask == 0 && o.new_axis_mask == 0 && o.shrink_axis_mask == 0 && !o.offset => {
            let all = shape_entries(sg, uses, node.input(0)?, y, x, p, depth + 1)?;
            let one = |i: usize| const_ints(sg, node.input(i)?).filter(|v| v.len() == 1).map(|v| v[0]);
            let (b, e, st) = (one(1)?, one(2)?, one(3)?);
            let n = all.len() as i64;
            let clamp = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n) as usize;
            (st == 1).then(|| all[clamp(b)..clamp(e).max(clamp(b))].to_vec())
        }
        Op::Concatenation(o) if o.activation == Activation::None => {
            let mut out = Vec::new();
            for t in node.inputs.iter().flatten() {
                out.extend(shape_entries(sg, uses, *t, y, x, p, depth + 1)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// For a RESHAPE of `y = T_p(x)` by a shape computed at run time that
/// only inserts or removes size-1 axes: the axes of the same reshape of
/// `x` as `(axis of z, Some(axis of x) | None for a size-1 axis)`, in the
/// order of `unit_reshape`.
fn runtime_unit_reshape(sg: &Subgraph, uses: &Uses, node: &Operator, y: TensorId, x: TensorId, p: &[usize]) -> Option<Vec<(usize, Option<usize>)>> {
    let entries = shape_entries(sg, uses, node.input(1)?, y, x, p, 0)?;
    let yd = sg.tensors[y.index()].shape.dims().to_vec();
    let xd = sg.tensors[x.index()].shape.dims().to_vec();
    let z = node.outputs[0];
    if entries.len() != sg.tensors[z.index()].shape.rank() || xd.len() != p.len() {
        return None;
    }
    let unit_y = |j: usize| yd.get(j) == Some(&Dim::Fixed(1));
    let y_axes: Vec<usize> = (0..p.len()).filter(|j| !unit_y(*j)).collect();
    // Each entry: a size-1 axis, or the next axis of y other than size 1
    // (its size read from y or x, the same constant, or the one -1).
    let mut z_to_y: Vec<Option<usize>> = Vec::new();
    let (mut next, mut inferred) = (0, false);
    for e in &entries {
        let want = y_axes.get(next).copied();
        let m = match *e {
            Entry::Known(1) => None,
            Entry::Axis(j) if unit_y(j) => None,
            Entry::Axis(j) if Some(j) == want => Some(j),
            Entry::Known(v) if v > 1 && want.is_some_and(|j| yd[j] == Dim::Fixed(u32::try_from(v).unwrap_or(0))) => want,
            Entry::Known(-1) if !inferred && want.is_some() => {
                inferred = true;
                want
            }
            _ => return None,
        };
        next += usize::from(m.is_some());
        z_to_y.push(m);
    }
    if next != y_axes.len() {
        return None;
    }
    let mut order: Vec<(usize, Option<usize>)> = Vec::new();
    let mut lead = true;
    for (k, m) in z_to_y.iter().enumerate() {
        if m.is_some() {
            lead = false;
        } else if lead {
            order.push((k, None));
        }
    }
    for a in (0..xd.len()).filter(|a| xd[*a] != Dim::Fixed(1)) {
        let j = p.iter().position(|v| *v == a)?;
        let k = z_to_y.iter().position(|m| *m == Some(j))?;
        order.push((k, Some(a)));
        for (u, m) in z_to_y.iter().enumerate().skip(k + 1) {
            if m.is_some() {
                break;
            }
            order.push((u, None));
        }
    }
    (order.len() == z_to_y.len()).then_some(order)
}

fn classify(sg: &Subgraph, uses: &Uses, c: usize, y: TensorId, x: TensorId, p: &[usize], ready: &[TensorId]) -> Option<Sink> {
    let node = &sg.operators[c];
    // Per-axis quantization names an axis; keep such ops where they are.
    let per_axis = |t: &TensorId| sg.tensors[t.index()].quantization.as_ref().is_some_and(|q| q.is_per_axis());
    if node.outputs.iter().any(per_axis) || per_axis(&y) {
        return None;
    }
    let r = p.len();
    let out_rank = node.outputs.first().map(|o| sg.tensors[o.index()].shape.rank());
    match &node.op {
        Op::Transpose if node.input(0) == Some(y) && perm_of(sg, node).is_some() => Some(Sink::Compose),
        op if unary_op(op) && node.inputs.len() == 1 => Some(Sink::Unary),
        Op::Softmax { .. } if p.last() == Some(&(r - 1)) => Some(Sink::Unary),
        op if binary_op(op) && out_rank == Some(r) => {
            let ok = node.inputs.iter().flatten().all(|t| operand_ok(sg, uses, *t, y, p, r, ready));
            ok.then_some(Sink::Binary)
        }
        Op::Concatenation(o) if o.activation == Activation::None && out_rank == Some(r) => {
            let ok = node.inputs.iter().flatten().all(|t| operand_ok(sg, uses, *t, y, p, r, ready));
            ok.then_some(Sink::Concat)
        }
        Op::Mean { .. } if node.input(0) == Some(y) && node.input(1).and_then(|a| const_ints(sg, a)).is_some() => Some(Sink::Mean),
        Op::Pad if node.input(0) == Some(y) && node.input(1).and_then(|a| const_ints(sg, a)).is_some() => Some(Sink::Pad),
        Op::Reshape { .. } if node.input(0) == Some(y) && order_preserving(&sg.tensors[x.index()].shape, p) => Some(Sink::Reshape),
        Op::Reshape { .. } if node.input(0) == Some(y) && node.outputs.len() == 1 && unit_reshape(&sg.tensors[x.index()].shape, p, &sg.tensors[node.outputs[0].index()].shape).is_some() => {
            Some(Sink::UnitReshape)
        }
        Op::Reshape { .. } if node.input(0) == Some(y) && node.outputs.len() == 1 && runtime_unit_reshape(sg, uses, node, y, x, p).is_some() => {
            Some(Sink::RuntimeUnitReshape)
        }
        Op::Tile if node.input(0) == Some(y) && node.input(1).and_then(|t| const_ints(sg, t)).is_some_and(|v| v.len() == r) => Some(Sink::Tile),
        Op::StridedSlice(o)
            if node.input(0) == Some(y)
                && o.ellipsis_mask == 0
                && o.new_axis_mask == 0
                && o.shrink_axis_mask == 0
                && !o.offset
                && (1..4).all(|i| node.input(i).and_then(|t| const_ints(sg, t)).is_some_and(|v| v.len() == r)) =>
        {
            Some(Sink::StridedSlice)
        }
        Op::SplitV { .. } if node.input(0) == Some(y) && node.input(2).and_then(|t| const_ints(sg, t)).is_some_and(|v| v.len() == 1) => {
            Some(Sink::Split)
        }
        Op::Shape(_) if node.input(0) == Some(y) => Some(Sink::Shape),
        Op::Gather(g)
            if node.input(0) == Some(y)
                && g.batch_dims == 0
                && node.input(1).is_some_and(|t| sg.tensors[t.index()].is_constant() && sg.tensors[t.index()].shape.rank() == 1) =>
        {
            Some(Sink::Gather)
        }
        _ => None,
    }
}

/// Adds a tensor like `like` with another shape.
fn add_like(sg: &mut Subgraph, like: TensorId, shape: Shape, suffix: &str) -> TensorId {
    let mut t = sg.tensors[like.index()].clone();
    t.name = format!("{}{suffix}", t.name);
    t.shape = shape;
    t.data = None;
    sg.tensors.push(t);
    TensorId(sg.tensors.len() as u32 - 1)
}

/// Rewrites consumer `c` to compute in `x`'s layout and returns a TRANSPOSE
/// (with permutation `q`) to insert after it producing the old output.
fn rewrite(
    sg: &mut Subgraph,
    uses: &Uses,
    c: usize,
    y: TensorId,
    x: TensorId,
    p: &[usize],
    how: Sink,
    renamed: &mut std::collections::HashMap<TensorId, TensorId>,
    pre: &mut Vec<Operator>,
) -> Option<Vec<Operator>> {
    let inv = inverse(p);
    let r = p.len();
    let z = sg.operators[c].outputs[0];
    let after = |sg: &mut Subgraph, q: &[usize], z_new: TensorId| {
        let perm: Vec<i32> = q.iter().map(|v| *v as i32).collect();
        let pt = add_i32(sg, format!("{}/perm", sg.tensors[z.index()].name), &perm);
        Operator::new(Op::Transpose, &[z_new, pt], &[z])
    };
    let replace_operands = |sg: &mut Subgraph| {
        let inputs = sg.operators[c].inputs.clone();
        for (slot, t) in inputs.iter().enumerate() {
            let Some(t) = *t else { continue };
            let new = if t == y {
                x
            } else if let Some(r) = renamed.get(&t) {
                *r
            } else if sg.tensors[t.index()].is_constant() {
                let pc = permuted_constant(&sg.tensors[t.index()], r, &inv)?;
                sg.tensors.push(pc);
                TensorId(sg.tensors.len() as u32 - 1)
            } else if layout_free(&sg.tensors[t.index()].shape, &inv) {
                t
            } else {
                let producer = uses.producer[t.index()]?;
                sg.operators[producer].input(0)?
            };
            sg.operators[c].inputs[slot] = Some(new);
        }
        Some(())
    };
    match how {
        Sink::Compose => {
            let q = perm_of(sg, &sg.operators[c])?;
            let composed: Vec<i32> = q.iter().map(|i| p[*i] as i32).collect();
            let pt = add_i32(sg, format!("{}/perm", sg.tensors[z.index()].name), &composed);
            sg.operators[c].inputs = vec![Some(x), Some(pt)];
            Some(vec![])
        }
        Sink::Reshape => {
            sg.operators[c].inputs[0] = Some(x);
            Some(vec![])
        }
        Sink::UnitReshape => {
            let (xs, q) = unit_reshape(&sg.tensors[x.index()].shape, p, &sg.tensors[z.index()].shape)?;
            let dims: Vec<i32> = xs.dims().iter().map(|d| if let Dim::Fixed(v) = d { i32::try_from(*v).ok() } else { Some(-1) }).collect::<Option<_>>()?;
            let st = add_i32(sg, format!("{}/shape", sg.tensors[z.index()].name), &dims);
            sg.operators[c].op = Op::Reshape { new_shape: None };
            sg.operators[c].inputs = vec![Some(x), Some(st)];
            let z_new = add_like(sg, z, xs, "/sunk");
            sg.operators[c].outputs[0] = z_new;
            Some(vec![after(sg, &q, z_new)])
        }
        Sink::RuntimeUnitReshape => {
            let node = sg.operators[c].clone();
            let order = runtime_unit_reshape(sg, uses, &node, y, x, p)?;
            let zd = sg.tensors[z.index()].shape.dims().to_vec();
            let q: Vec<usize> = (0..zd.len()).map(|k| order.iter().position(|o| o.0 == k)).collect::<Option<_>>()?;
            // shape(x') = GATHER(CONCATENATION(SHAPE(x), [1]), idx): each
            // axis an axis of x, or the appended 1.
            let idx: Vec<i32> = order.iter().map(|(_, a)| a.map_or(r as i32, |a| a as i32)).collect();
            let zname = sg.tensors[z.index()].name.clone();
            let sx = sg.tensors.len();
            sg.tensors.push(Tensor::new(format!("{zname}/x_shape"), DType::I32, Shape::new([r as u32])));
            let one = add_i32(sg, format!("{zname}/one"), &[1]);
            let ext = sg.tensors.len();
            sg.tensors.push(Tensor::new(format!("{zname}/x_shape_1"), DType::I32, Shape::new([r as u32 + 1])));
            let it = add_i32(sg, format!("{zname}/axes"), &idx);
            let ns = sg.tensors.len();
            sg.tensors.push(Tensor::new(format!("{zname}/shape"), DType::I32, Shape::new([idx.len() as u32])));
            let (sx, ext, ns) = (TensorId(sx as u32), TensorId(ext as u32), TensorId(ns as u32));
            pre.push(Operator::new(Op::Shape(ShapeOptions { out_type: DType::I32 }), &[x], &[sx]));
            pre.push(Operator::new(Op::Concatenation(ConcatenationOptions::default()), &[sx, one], &[ext]));
            pre.push(Operator::new(Op::Gather(GatherOptions::default()), &[ext, it], &[ns]));
            sg.operators[c].inputs = vec![Some(x), Some(ns)];
            sg.operators[c].op = Op::Reshape { new_shape: None };
            let shape = Shape::from_dims(order.iter().map(|(k, _)| zd[*k]).collect());
            let z_new = add_like(sg, z, shape, "/sunk");
            sg.operators[c].outputs[0] = z_new;
            Some(vec![after(sg, &q, z_new)])
        }
        Sink::Tile => {
            let m = const_ints(sg, sg.operators[c].input(1)?)?;
            let mut w = vec![1i32; r];
            for k in 0..r {
                w[p[k]] = i32::try_from(m[k]).ok()?;
            }
            let mt = add_i32(sg, format!("{}/multiples", sg.tensors[z.index()].name), &w);
            sg.operators[c].inputs = vec![Some(x), Some(mt)];
            let shape = permute_shape(&sg.tensors[z.index()].shape, &inv);
            let z_new = add_like(sg, z, shape, "/sunk");
            sg.operators[c].outputs[0] = z_new;
            Some(vec![after(sg, p, z_new)])
        }
        Sink::StridedSlice => {
            let node = sg.operators[c].clone();
            let mut new_inputs = vec![Some(x)];
            for i in 1..4 {
                let v = const_ints(sg, node.input(i)?)?;
                let mut w = vec![0i32; r];
                for k in 0..r {
                    w[p[k]] = v[k] as i32;
                }
                new_inputs.push(Some(add_i32(sg, format!("{}/arg{i}", sg.tensors[z.index()].name), &w)));
            }
            let Op::StridedSlice(mut o) = node.op else { return None };
            let permute_mask = |m: i32| (0..r).filter(|k| m & (1 << k) != 0).fold(0i32, |acc, k| acc | (1 << p[k]));
            o.begin_mask = permute_mask(o.begin_mask);
            o.end_mask = permute_mask(o.end_mask);
            sg.operators[c].op = Op::StridedSlice(o);
            sg.operators[c].inputs = new_inputs;
            let shape = permute_shape(&sg.tensors[z.index()].shape, &inv);
            let z_new = add_like(sg, z, shape, "/sunk");
            sg.operators[c].outputs[0] = z_new;
            Some(vec![after(sg, p, z_new)])
        }
        Sink::Gather => {
            let Op::Gather(mut g) = sg.operators[c].op else { return None };
            let a = if g.axis < 0 { g.axis + r as i32 } else { g.axis };
            g.axis = p[usize::try_from(a).ok().filter(|a| *a < r)?] as i32;
            sg.operators[c].op = Op::Gather(g);
            sg.operators[c].inputs[0] = Some(x);
            let shape = permute_shape(&sg.tensors[z.index()].shape, &inv);
            let z_new = add_like(sg, z, shape, "/sunk");
            sg.operators[c].outputs[0] = z_new;
            Some(vec![after(sg, p, z_new)])
        }
        Sink::Shape => {
            // shape(T_p(x))[k] = shape(x)[p[k]]: SHAPE of x, then GATHER by p.
            sg.operators[c].inputs[0] = Some(x);
            let z_new = add_like(sg, z, sg.tensors[z.index()].shape.clone(), "/sunk");
            sg.operators[c].outputs[0] = z_new;
            let perm: Vec<i32> = p.iter().map(|v| *v as i32).collect();
            let pt = add_i32(sg, format!("{}/perm", sg.tensors[z.index()].name), &perm);
            Some(vec![Operator::new(Op::Gather(GatherOptions::default()), &[z_new, pt], &[z])])
        }
        Sink::Split => {
            let a = const_ints(sg, sg.operators[c].input(2)?)?[0];
            let a = usize::try_from(if a < 0 { a + r as i64 } else { a }).ok().filter(|a| *a < r)?;
            let at = sg.tensors.len();
            sg.tensors.push(Tensor::new(format!("{}/axis", sg.tensors[z.index()].name), DType::I32, Shape::scalar()).with_data(ConstData::from_slice(&[p[a] as i32])));
            sg.operators[c].inputs[0] = Some(x);
            sg.operators[c].inputs[2] = Some(TensorId(at as u32));
            let mut inserts = Vec::new();
            for k in 0..sg.operators[c].outputs.len() {
                let zk = sg.operators[c].outputs[k];
                let shape = permute_shape(&sg.tensors[zk.index()].shape, &inv);
                let z_new = add_like(sg, zk, shape, "/sunk");
                sg.operators[c].outputs[k] = z_new;
                let perm: Vec<i32> = p.iter().map(|v| *v as i32).collect();
                let pt = add_i32(sg, format!("{}/perm", sg.tensors[zk.index()].name), &perm);
                inserts.push(Operator::new(Op::Transpose, &[z_new, pt], &[zk]));
            }
            Some(inserts)
        }
        Sink::Unary | Sink::Binary | Sink::Concat => {
            replace_operands(sg)?;
            if let Op::Concatenation(o) = &mut sg.operators[c].op {
                let a = if o.axis < 0 { o.axis + r as i32 } else { o.axis };
                o.axis = p[usize::try_from(a).ok()?] as i32;
            }
            let shape = permute_shape(&sg.tensors[z.index()].shape, &inv);
            let z_new = add_like(sg, z, shape, "/sunk");
            sg.operators[c].outputs[0] = z_new;
            renamed.insert(z, z_new);
            Some(vec![after(sg, p, z_new)])
        }
        Sink::Pad => {
            let pads = const_ints(sg, sg.operators[c].input(1)?)?;
            let mut new = vec![0i32; 2 * r];
            for i in 0..r {
                new[2 * p[i]] = pads[2 * i] as i32;
                new[2 * p[i] + 1] = pads[2 * i + 1] as i32;
            }
            let t = sg.tensors.len();
            sg.tensors.push(Tensor::new(format!("{}/paddings", sg.tensors[z.index()].name), DType::I32, Shape::new([r as u32, 2])).with_data(ConstData::from_slice(&new)));
            sg.operators[c].inputs = vec![Some(x), Some(TensorId(t as u32))];
            let shape = permute_shape(&sg.tensors[z.index()].shape, &inv);
            let z_new = add_like(sg, z, shape, "/sunk");
            sg.operators[c].outputs[0] = z_new;
            Some(vec![after(sg, p, z_new)])
        }
        Sink::Mean => {
            let Op::Mean { keep_dims } = sg.operators[c].op else { return None };
            let axes: Vec<usize> = const_ints(sg, sg.operators[c].input(1)?)?
                .iter()
                .map(|a| usize::try_from(if *a < 0 { a + r as i64 } else { *a }).ok().filter(|a| *a < r))
                .collect::<Option<_>>()?;
            let new_axes: Vec<i32> = axes.iter().map(|a| p[*a] as i32).collect();
            let at = add_i32(sg, format!("{}/axes", sg.tensors[z.index()].name), &new_axes);
            sg.operators[c].inputs = vec![Some(x), Some(at)];
            let x_shape = sg.tensors[x.index()].shape.clone();
            if keep_dims {
                let shape = permute_shape(&sg.tensors[z.index()].shape, &inv);
                let z_new = add_like(sg, z, shape, "/sunk");
                sg.operators[c].outputs[0] = z_new;
                return Some(vec![after(sg, p, z_new)]);
            }
            let remaining: Vec<usize> = (0..r).filter(|i| !axes.contains(i)).collect();
            let mut zs: Vec<usize> = remaining.iter().map(|i| p[*i]).collect();
            zs.sort_unstable();
            let q: Vec<usize> = remaining.iter().map(|i| zs.iter().position(|v| *v == p[*i]).unwrap_or(0)).collect();
            if is_identity(&q) {
                return Some(vec![]);
            }
            let shape = Shape::from_dims(zs.iter().map(|a| x_shape.dims()[*a]).collect());
            let z_new = add_like(sg, z, shape, "/sunk");
            sg.operators[c].outputs[0] = z_new;
            Some(vec![after(sg, &q, z_new)])
        }
    }
}

/// The ops of an elementwise chain from `y` (or a unary consumer of `y`)
/// to `t`: each unary, or binary with a permutable constant or layout-free
/// other operand, each output read once and not a graph output. Such a
/// chain computes in `x`'s layout as well, so it is sunk with `y`.
fn chain_to(sg: &Subgraph, uses: &Uses, t: TensorId, y: TensorId, p: &[usize], consumers: &[usize], depth: usize) -> Option<Vec<usize>> {
    let r = p.len();
    if depth > 8 || uses.is_output[t.index()] || uses.consumers[t.index()].len() != 1 || sg.tensors[t.index()].shape.rank() != r {
        return None;
    }
    let i = uses.producer[t.index()]?;
    let node = &sg.operators[i];
    if node.outputs.len() != 1 || node.outputs.iter().any(|o| sg.tensors[o.index()].quantization.as_ref().is_some_and(|q| q.is_per_axis())) {
        return None;
    }
    let from = if unary_op(&node.op) && node.inputs.len() == 1 {
        node.input(0)?
    } else if binary_op(&node.op) {
        let mut from = None;
        for u in node.inputs.iter().flatten() {
            let ut = &sg.tensors[u.index()];
            let fixed = if ut.is_constant() { ut.shape.rank() <= r && permuted_constant(ut, r, &inverse(p)).is_some() } else { layout_free(&ut.shape, &inverse(p)) };
            if fixed {
                continue;
            }
            if from.replace(*u).is_some() {
                return None;
            }
        }
        from?
    } else {
        return None;
    };
    if from == y {
        return Some(vec![i]);
    }
    // The output of a unary consumer of `y`, sunk in the same step.
    if let Some(k) = uses.producer[from.index()]
        && consumers.contains(&k)
        && unary_op(&sg.operators[k].op)
        && sg.operators[k].inputs.len() == 1
    {
        return Some(vec![i]);
    }
    let mut ch = chain_to(sg, uses, from, y, p, consumers, depth + 1)?;
    ch.push(i);
    Some(ch)
}

/// Sinks one transpose if possible. Returns whether the graph changed.
fn sink_one(sg: &mut Subgraph) -> bool {
    let uses = Uses::of(sg);
    for i in 0..sg.operators.len() {
        let Some(p) = perm_of(sg, &sg.operators[i]) else { continue };
        let (Some(x), y) = (sg.operators[i].input(0), sg.operators[i].outputs[0]) else { continue };
        if uses.is_output[y.index()] || uses.consumers[y.index()].is_empty() {
            continue;
        }
        let mut consumers: Vec<usize> = uses.consumers[y.index()].iter().map(|(c, _)| *c).collect();
        consumers.sort_unstable();
        consumers.dedup();
        // Elementwise chains from `y` into a binary consumer of `y` (the
        // HardSigmoid of x · HardSigmoid(x)) are sunk in the same step.
        let mut chain: Vec<usize> = Vec::new();
        for &c in &consumers {
            let node = &sg.operators[c];
            if !(binary_op(&node.op) || matches!(node.op, Op::Concatenation(_))) {
                continue;
            }
            for t in node.inputs.iter().flatten() {
                if !operand_ok(sg, &uses, *t, y, &p, p.len(), &[])
                    && let Some(ch) = chain_to(sg, &uses, *t, y, &p, &consumers, 0)
                {
                    chain.extend(ch);
                }
            }
        }
        chain.sort_unstable();
        chain.dedup();
        chain.retain(|i| !consumers.contains(i));
        let ready: Vec<TensorId> = chain.iter().map(|i| sg.operators[*i].outputs[0]).collect();
        let plan: Option<Vec<Sink>> = consumers.iter().map(|c| classify(sg, &uses, *c, y, x, &p, &ready)).collect();
        let Some(plan) = plan else { continue };
        // In graph order: a consumer may read what an earlier one computes.
        let mut steps: Vec<(usize, Sink)> = consumers.into_iter().zip(plan).collect();
        steps.extend(chain.iter().map(|i| (*i, if unary_op(&sg.operators[*i].op) { Sink::Unary } else { Sink::Binary })));
        steps.sort_by_key(|(c, _)| *c);
        // A failed rewrite is undone from a snapshot of what rewrites touch
        // (the consumers, and tensors appended), not a copy of the graph.
        let n_tensors = sg.tensors.len();
        let saved: Vec<(usize, Operator)> = steps.iter().map(|(c, _)| (*c, sg.operators[*c].clone())).collect();
        // (position, op): after a consumer at c + 1, before it at c.
        let mut inserts: Vec<(usize, Operator)> = Vec::new();
        let mut renamed = std::collections::HashMap::new();
        let mut ok = true;
        for (c, how) in steps {
            let c = &c;
            let mut pre = Vec::new();
            match rewrite(sg, &uses, *c, y, x, &p, how, &mut renamed, &mut pre) {
                Some(ts) => {
                    inserts.extend(ts.into_iter().rev().map(|t| (*c + 1, t)));
                    inserts.extend(pre.into_iter().rev().map(|t| (*c, t)));
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            sg.tensors.truncate(n_tensors);
            for (c, op) in saved {
                sg.operators[c] = op;
            }
            continue;
        }
        inserts.sort_by(|a, b| b.0.cmp(&a.0));
        for (at, t) in inserts {
            sg.operators.insert(at, t);
        }
        return true;
    }
    false
}

/// Replaces identity transposes by their input.
fn drop_identities(sg: &mut Subgraph) -> usize {
    let mut removed = 0;
    loop {
        let uses = Uses::of(sg);
        let found = sg.operators.iter().enumerate().find_map(|(i, op)| {
            let p = perm_of(sg, op)?;
            // A transpose that moves no data is an identity too.
            let x = op.input(0)?;
            let same = layout_free(&sg.tensors[x.index()].shape, &p) && sg.tensors[x.index()].shape == sg.tensors[op.outputs[0].index()].shape;
            (is_identity(&p) || same).then_some(i)
        });
        let Some(i) = found else { break };
        let (Some(x), y) = (sg.operators[i].input(0), sg.operators[i].outputs[0]) else { break };
        if uses.is_output[y.index()] {
            // Keep the output's name: let the producer write it directly.
            let x_free = uses.producer[x.index()].is_some() && !uses.is_output[x.index()] && !sg.inputs.contains(&x);
            if !x_free {
                break;
            }
            let name = sg.tensors[y.index()].name.clone();
            sg.tensors[x.index()].name = name;
            for o in sg.outputs.iter_mut() {
                if *o == y {
                    *o = x;
                }
            }
        }
        for op in sg.operators.iter_mut() {
            for t in op.inputs.iter_mut().flatten() {
                if *t == y {
                    *t = x;
                }
            }
        }
        sg.operators.remove(i);
        removed += 1;
    }
    removed
}

/// Runs sinking to a fixed point on one subgraph. Returns the number of
/// TRANSPOSE ops removed.
pub fn sink_transposes(sg: &mut Subgraph) -> usize {
    let count = |sg: &Subgraph| sg.operators.iter().filter(|o| o.op == Op::Transpose).count();
    let before = count(sg);
    let limit = 4 * sg.operators.len() + 16;
    for _ in 0..limit {
        drop_identities(sg);
        super::cleanup::remove_dead(sg);
        if !sink_one(sg) {
            break;
        }
    }
    drop_identities(sg);
    super::cleanup::remove_dead(sg);
    before.saturating_sub(count(sg))
}

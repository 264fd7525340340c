//! Control flow: If, Loop and Scan.
//!
//! - **If** with a condition that folds to a constant inlines the branch it
//!   takes. Otherwise it becomes TFLite IF with both branches as subgraphs;
//!   the values the branches read from outside become explicit inputs.
//! - **Loop** with a constant trip count up to [`MAX_UNROLL`] whose
//!   condition stays constant is unrolled; otherwise it becomes WHILE, with
//!   the iteration count, trip count and condition as loop variables and
//!   each scan output gathered by CONCATENATION.
//! - **Scan** (opset 9 and later) over a sequence of known length up to
//!   [`MAX_UNROLL`] is unrolled; otherwise it becomes WHILE, reading one
//!   slice per iteration with GATHER (scan outputs then need a static
//!   declared element shape).

use super::nested::{renamed, Captures};
use crate::build::SubgraphBuilder;
use super::{LowerCtx, LowerError, Node, Val};
use crate::model::{ConstData, Dim, DType, GatherOptions, Op, PackOptions, Shape, ShapeOptions, TensorId};
use crate::onnx::error::{OnnxError, ReasonCode};
use crate::onnx::ir::{OGraph, TensorData};

/// Longest loop or scan that is unrolled instead of becoming WHILE.
pub(crate) const MAX_UNROLL: i64 = 64;

/// Most ONNX nodes that unrolling may inline in one conversion (nested
/// loops multiply); past it, loops and scans become WHILE.
pub(crate) const MAX_UNROLLED_NODES: usize = 50_000;

/// Whether `iterations` copies of `body` still fit the unrolling budget;
/// if so, they are counted against it.
fn unroll_fits(ctx: &mut LowerCtx<'_>, body: &OGraph, iterations: usize) -> bool {
    let more = super::nested::node_count(body).saturating_mul(iterations);
    let total = ctx.unrolled.saturating_add(more);
    if total > MAX_UNROLLED_NODES {
        return false;
    }
    ctx.unrolled = total;
    true
}

fn graph_attr<'n>(node: &Node<'n>, name: &str) -> Result<&'n OGraph, LowerError> {
    node.inner.graph_attr(name).ok_or_else(|| LowerError::invalid(format!("attribute {name} (a graph) is missing")))
}

/// The truth of a constant condition.
fn const_truth(d: &TensorData) -> Result<bool, LowerError> {
    match d.to_f64().as_deref() {
        Some([x]) => Ok(*x != 0.0),
        _ => Err(LowerError::invalid(format!("the condition must hold one value, has shape {:?}", d.dims))),
    }
}

/// Lowers `If`.
pub fn lower_if(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let then_g = graph_attr(node, "then_branch")?;
    let else_g = graph_attr(node, "else_branch")?;
    for (g, which) in [(then_g, "then"), (else_g, "else")] {
        if g.outputs.len() != node.num_outputs() {
            return Err(LowerError::invalid(format!("the {which} branch has {} outputs, the node {}", g.outputs.len(), node.num_outputs())));
        }
    }
    if let Some(c) = ctx.const_input(node, 0) {
        let take = const_truth(&c)?;
        let vals = ctx.inline_graph(if take { then_g } else { else_g }, Vec::new()).map_err(|e| ctx.nest(e))?;
        for (i, v) in vals.into_iter().enumerate() {
            ctx.set_val(node, i, v);
        }
        let which = if take { "then" } else { "else" };
        ctx.forms.push((node.name(), format!("inlined the {which} branch (constant condition)")));
        return Ok(());
    }
    let mut cond = ctx.input(node, 0)?;
    if ctx.dtype(cond) != DType::Bool {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("If condition of type {}", ctx.dtype(cond))));
    }
    match ctx.shape(cond).num_elements() {
        Some(1) => {}
        _ => return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("If condition of shape {} (must hold one value)", ctx.shape(cond)))),
    }
    if ctx.shape(cond).rank() != 0 {
        cond = ctx.g.reshape(cond, &[])?;
    }
    let mut names: Vec<String> = then_g.captures.iter().chain(&else_g.captures).cloned().collect();
    names.sort();
    names.dedup();
    let Captures { args, inputs, consts } = ctx.capture(&names)?;
    let (mut tb, mut touts) = ctx.lower_body(then_g, "then", &inputs, consts.clone(), |_, _| Ok(Vec::new()), |c, _| c.graph_outputs(then_g)).map_err(|e| ctx.nest(e))?;
    let (mut eb, mut eouts) = ctx.lower_body(else_g, "else", &inputs, consts, |_, _| Ok(Vec::new()), |c, _| c.graph_outputs(else_g)).map_err(|e| ctx.nest(e))?;
    for k in 0..touts.len() {
        let (td, ed) = (tb.tensor(touts[k]).dtype, eb.tensor(eouts[k]).dtype);
        // An int64 value may be narrowed to int32 in one branch only.
        match (td, ed) {
            _ if td == ed => {}
            (DType::I32, DType::I64) => touts[k] = tb.cast(touts[k], DType::I64)?,
            (DType::I64, DType::I32) => eouts[k] = eb.cast(eouts[k], DType::I64)?,
            _ => return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("output {k} is {td} in the then branch but {ed} in the else branch"))),
        }
        // One value in both branches, as a scalar in one and [1] in the
        // other: the declared shape of the If output decides.
        let (ts, es) = (tb.tensor(touts[k]).shape.clone(), eb.tensor(eouts[k]).shape.clone());
        if ts.rank() != es.rank() && ts.num_elements() == Some(1) && es.num_elements() == Some(1) {
            let declared = node.inner.outputs.get(k).and_then(|o| ctx.graph.value(o)).and_then(|v| v.shape.as_ref()).map(|s| s.len());
            let rank = declared.ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, format!("output {k} has rank {} in the then branch and {} in the else branch", ts.rank(), es.rank())))?;
            let dims = vec![1; rank];
            if ts.rank() != rank {
                touts[k] = tb.reshape(touts[k], &dims)?;
            }
            if es.rank() != rank {
                eouts[k] = eb.reshape(eouts[k], &dims)?;
            }
        }
    }
    let ti = ctx.finish_body(tb, &touts)?;
    let ei = ctx.finish_body(eb, &eouts)?;
    let outs = ctx.g.if_then_else(&ctx.mb, cond, ti, ei, &args)?;
    for (i, t) in outs.into_iter().enumerate() {
        ctx.set_output(node, i, t);
    }
    ctx.forms.push((node.name(), format!("IF over subgraphs {ti} and {ei}")));
    Ok(())
}

/// The value `v` as a tensor of the subgraph being built.
fn val_tensor(ctx: &mut LowerCtx<'_>, v: &Val, name: &str) -> Result<TensorId, LowerError> {
    match v {
        Val::Tensor(t) => Ok(*t),
        Val::Const(d) => ctx.const_tensor(name, d),
        Val::Shape { dims, scalar } => ctx.shape_tensor(name, dims, *scalar),
    }
}

/// Stacks `vals` along a new axis `axis` (PACK).
fn stack(ctx: &mut LowerCtx<'_>, vals: &[Val], axis: i32, name: &str) -> Result<TensorId, LowerError> {
    let ts: Vec<Option<TensorId>> = vals.iter().enumerate().map(|(k, v)| val_tensor(ctx, v, &format!("{name}_{k}")).map(Some)).collect::<Result<_, _>>()?;
    let d0 = ts.first().copied().flatten().map(|t| ctx.dtype(t));
    if ts.iter().flatten().any(|t| Some(ctx.dtype(*t)) != d0) {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, "a scan output changes type between iterations"));
    }
    Ok(ctx.g.pack(&ts, PackOptions { values_count: ts.len() as i32, axis })?)
}

/// An empty scan output: `[0, elem...]` of `graph` output `name`'s declared
/// type and shape.
fn empty_scan_output(ctx: &mut LowerCtx<'_>, graph: &OGraph, name: &str) -> Result<TensorId, LowerError> {
    let v = graph.value(name);
    let dtype = v.and_then(|v| v.dtype).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, format!("scan output {name:?} has no declared type")))?;
    let dims: Option<Vec<u32>> = v.and_then(|v| v.shape.as_ref()).and_then(|s| s.iter().map(|d| d.known().and_then(|n| u32::try_from(n).ok())).collect());
    let dims = dims.ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, format!("scan output {name:?} of a loop that runs no iteration needs a static declared shape")))?;
    let shape = Shape::new(std::iter::once(0).chain(dims));
    Ok(ctx.g.constant(name, dtype, shape, ConstData::from_bytes(Vec::new())))
}

/// The declared element type and static shape of scan output `name`.
fn declared_elem(graph: &OGraph, name: &str) -> Option<(DType, Vec<u32>)> {
    let v = graph.value(name)?;
    let dims: Option<Vec<u32>> = v.shape.as_ref()?.iter().map(|d| d.known().and_then(|n| u32::try_from(n).ok())).collect();
    Some((v.dtype?, dims?))
}

/// The element type and shape of a Loop's scan outputs as its body
/// computes them: the body is lowered once to read them, for outputs whose
/// type or static shape the model does not declare.
fn probe_scan_outputs(ctx: &mut LowerCtx<'_>, node: &Node<'_>, body: &OGraph, n_carried: usize, n_scan: usize) -> Result<Vec<(DType, Shape)>, LowerError> {
    let mut inputs: Vec<(String, DType, Shape)> = vec![
        (body.inputs[0].clone(), DType::I32, Shape::scalar()),
        (body.inputs[1].clone(), DType::Bool, Shape::scalar()),
    ];
    for k in 0..n_carried {
        let t = ctx.input(node, k + 2)?;
        inputs.push((body.inputs[2 + k].clone(), ctx.dtype(t), ctx.shape(t).clone()));
    }
    let Captures { inputs: cap_inputs, consts, .. } = ctx.capture(&body.captures)?;
    inputs.extend(cap_inputs);
    let (g, outs) = ctx.lower_body(body, "loop_probe", &inputs, consts, |_, _| Ok(Vec::new()), |c, _| c.graph_outputs(body)).map_err(|e| ctx.nest(e))?;
    Ok((0..n_scan)
        .map(|k| {
            let t = g.tensor(outs[1 + n_carried + k]);
            (t.dtype, t.shape.clone())
        })
        .collect())
}

/// Lowers `Loop`.
pub fn lower_loop(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let body = graph_attr(node, "body")?;
    let n_carried = node.num_inputs().checked_sub(2).ok_or_else(|| LowerError::invalid("Loop needs the inputs M and cond (each may be empty)"))?;
    if body.inputs.len() != n_carried + 2 {
        return Err(LowerError::invalid(format!("the body has {} inputs, the loop carries {n_carried} values (+2)", body.inputs.len())));
    }
    let n_scan = body.outputs.len().checked_sub(1 + n_carried).ok_or_else(|| LowerError::invalid("the body has too few outputs"))?;
    if node.num_outputs() > n_carried + n_scan {
        return Err(LowerError::invalid("the node has more outputs than the body gives"));
    }
    let trip = match node.has_input(0) {
        true => ctx.const_input(node, 0).map(|d| d.to_i64().and_then(|v| v.first().copied()).ok_or_else(|| LowerError::invalid("M must hold one integer"))).transpose()?,
        false => None,
    };
    let cond = match node.has_input(1) {
        true => ctx.const_input(node, 1).map(|d| const_truth(&d)).transpose()?,
        false => Some(true),
    };
    if !node.has_input(0) && !node.has_input(1) {
        return Err(LowerError::new(ReasonCode::UnsupportedAttribute, "a Loop with neither a trip count nor a condition never ends"));
    }
    if let (Some(m), Some(c)) = (trip, cond) {
        if (0..=MAX_UNROLL).contains(&m) && unroll_fits(ctx, body, m as usize) {
            if let Some(done) = unroll_loop(ctx, node, body, m, c, n_carried, n_scan)? {
                ctx.forms.push((node.name(), format!("unrolled over {done} iterations")));
                return Ok(());
            }
        }
    }
    while_loop(ctx, node, body, n_carried, n_scan)
}

/// Unrolls a loop of `m` iterations; `None` when the body's condition is
/// not constant (then the loop must be a WHILE).
fn unroll_loop(ctx: &mut LowerCtx<'_>, node: &Node<'_>, body: &OGraph, m: i64, cond: bool, n_carried: usize, n_scan: usize) -> Result<Option<i64>, LowerError> {
    let mut carried: Vec<Val> = Vec::with_capacity(n_carried);
    for k in 0..n_carried {
        let name = node.inner.input(k + 2).ok_or_else(|| LowerError::invalid(format!("loop-carried input {k} is empty")))?;
        carried.push(ctx.env.get(name).cloned().ok_or_else(|| LowerError::invalid(format!("value {name:?} is not available")))?);
    }
    let mut scans: Vec<Vec<Val>> = vec![Vec::new(); n_scan];
    let mut go = cond;
    let mut done = 0;
    while go && done < m {
        let copy = renamed(body, &format!("#{}.{done}", node.name()));
        let mut bindings = vec![
            (copy.inputs[0].clone(), Val::Const(TensorData::from_i64(vec![], &[done]))),
            (copy.inputs[1].clone(), Val::Const(TensorData { dtype: DType::Bool, dims: vec![], bytes: vec![1] })),
        ];
        bindings.extend(copy.inputs[2..].iter().cloned().zip(carried.iter().cloned()));
        let outs = ctx.inline_graph(&copy, bindings).map_err(|e| ctx.nest(e))?;
        go = match &outs[0] {
            Val::Const(d) => const_truth(d)?,
            _ => return Ok(None),
        };
        carried = outs[1..1 + n_carried].to_vec();
        for (k, v) in outs[1 + n_carried..].iter().enumerate() {
            scans[k].push(v.clone());
        }
        done += 1;
    }
    for (k, v) in carried.into_iter().enumerate() {
        ctx.set_val(node, k, v);
    }
    for (k, vals) in scans.iter().enumerate() {
        if node.inner.outputs.get(n_carried + k).is_none_or(|o| o.is_empty()) {
            continue;
        }
        let t = if vals.is_empty() {
            empty_scan_output(ctx, body, &body.outputs[1 + n_carried + k])?
        } else {
            stack(ctx, vals, 0, &format!("{}_scan{k}", node.name()))?
        };
        ctx.set_output(node, n_carried + k, t);
    }
    Ok(Some(done))
}

/// `shape` with the dimensions where `seen` differs made dynamic; `None`
/// when the ranks differ.
fn relax(shape: &Shape, seen: &Shape) -> Option<Shape> {
    (shape.rank() == seen.rank()).then(|| Shape::from_dims(shape.dims().iter().zip(seen.dims()).map(|(a, b)| if a == b { *a } else { Dim::Dynamic }).collect()))
}

/// Relaxes each loop variable's declared shape (`shapes`) to the body's
/// output for it (`outs` in `body`); whether any changed. A variable whose
/// rank changes is an error.
fn relax_all(shapes: &mut [Shape], body: &SubgraphBuilder, outs: &[TensorId]) -> Result<bool, LowerError> {
    let mut changed = false;
    for (k, t) in outs.iter().enumerate() {
        let seen = body.tensor(*t).shape.clone();
        let Some(r) = relax(&shapes[k], &seen) else {
            return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("loop variable {k} changes rank in the body ({} to {seen})", shapes[k])));
        };
        if r != shapes[k] {
            shapes[k] = r;
            changed = true;
        }
    }
    Ok(changed)
}

/// `acc` with `row` appended along a new axis 0 (EXPAND_DIMS, CONCATENATION).
fn append_row(c: &mut LowerCtx<'_>, acc: TensorId, row: TensorId) -> Result<TensorId, OnnxError> {
    let zero_ax = c.g.constant_i32("axis0", Shape::new([1]), &[0]);
    let row = c.g.expand_dims(row, zero_ax).map_err(OnnxError::Model)?;
    c.g.concatenation(&[acc, row], 0).map_err(OnnxError::Model)
}

/// The cond subgraph of a counting WHILE over variables of `shapes` and
/// `dtypes`: `v0 < v1`, and with `flag`, `&& v2`. Gives its index.
fn counter_cond(ctx: &mut LowerCtx<'_>, name: &str, shapes: &[Shape], dtypes: &[DType], flag: bool) -> Result<u32, LowerError> {
    let mut cg = ctx.mb.subgraph(name);
    let cins: Vec<TensorId> = shapes.iter().zip(dtypes).enumerate().map(|(k, (s, d))| cg.input(&format!("v{k}"), *d, s.clone())).collect();
    let mut go = cg.apply(Op::Less, &[Some(cins[0]), Some(cins[1])])?;
    if flag {
        go = cg.apply(Op::LogicalAnd, &[Some(go), Some(cins[2])])?;
    }
    cg.output("go", go);
    Ok(ctx.mb.finish_subgraph(cg)?)
}

/// Casts `t` to `dtype` unless it already is.
fn cast_to(ctx: &mut LowerCtx<'_>, t: TensorId, dtype: DType) -> Result<TensorId, OnnxError> {
    if ctx.dtype(t) == dtype {
        return Ok(t);
    }
    ctx.g.cast(t, dtype).map_err(OnnxError::Model)
}

/// `t` as a scalar (from one element of any rank).
fn scalar(ctx: &mut LowerCtx<'_>, t: TensorId) -> Result<TensorId, OnnxError> {
    if ctx.shape(t).rank() == 0 {
        return Ok(t);
    }
    ctx.g.reshape(t, &[]).map_err(OnnxError::Model)
}

/// A Loop as WHILE over `[iteration, trip count, condition, carried...,
/// scan outputs so far..., captures...]`.
fn while_loop(ctx: &mut LowerCtx<'_>, node: &Node<'_>, body: &OGraph, n_carried: usize, n_scan: usize) -> Result<(), LowerError> {
    let name = node.name();
    let zero = ctx.g.constant_i32(&format!("{name}_i0"), Shape::scalar(), &[0]);
    let trip = match node.has_input(0) {
        true => {
            let m = ctx.input(node, 0)?;
            let m = if ctx.dtype(m) == DType::I64 {
                // A trip count past int32 runs until the condition stops it.
                let big = ctx.g.constant(&format!("{name}_mmax"), DType::I64, Shape::scalar(), ConstData::from_slice(&[i64::from(i32::MAX)]));
                let m = ctx.g.minimum(m, big)?;
                ctx.g.cast(m, DType::I32)?
            } else {
                m
            };
            scalar(ctx, m).map_err(|e| ctx.nest(e))?
        }
        false => ctx.g.constant_i32(&format!("{name}_mmax"), Shape::scalar(), &[i32::MAX]),
    };
    let cond = match node.has_input(1) {
        true => {
            let c = ctx.input(node, 1)?;
            scalar(ctx, c).map_err(|e| ctx.nest(e))?
        }
        false => ctx.g.constant(&format!("{name}_true"), DType::Bool, Shape::scalar(), ConstData::from_bytes(vec![1])),
    };
    let mut vars = vec![zero, trip, cond];
    for k in 0..n_carried {
        vars.push(ctx.input(node, k + 2)?);
    }
    let declared: Vec<Option<(DType, Vec<u32>)>> = (0..n_scan).map(|k| declared_elem(body, &body.outputs[1 + n_carried + k])).collect();
    let probed = if declared.iter().any(Option::is_none) { Some(probe_scan_outputs(ctx, node, body, n_carried, n_scan)?) } else { None };
    // A scan output whose element shape is only known at run time (a
    // dynamic batch) is gathered flat, and the element's shape is carried
    // along to shape the rows after the loop: `flat[k]` holds its element
    // shape as the body computes it.
    let mut flat: Vec<Option<Shape>> = vec![None; n_scan];
    for k in 0..n_scan {
        let (dtype, dims) = match (&declared[k], probed.as_ref().map(|p| &p[k])) {
            (Some(d), _) => d.clone(),
            (None, Some((dtype, shape))) => match shape.as_fixed() {
                Some(d) => (*dtype, d),
                None => {
                    flat[k] = Some(shape.clone());
                    vars.push(ctx.g.constant(&format!("{name}_scan{k}"), *dtype, Shape::new([0]), ConstData::from_bytes(Vec::new())));
                    continue;
                }
            },
            (None, None) => {
                let oname = &body.outputs[1 + n_carried + k];
                return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("scan output {oname:?} has no element shape")));
            }
        };
        let shape = Shape::new(std::iter::once(0).chain(dims));
        vars.push(ctx.g.constant(&format!("{name}_scan{k}"), dtype, shape, ConstData::from_bytes(Vec::new())));
    }
    let Captures { args, inputs: cap_inputs, consts } = ctx.capture(&body.captures)?;
    vars.extend(args.iter().copied());
    let n_caps = args.len();
    // The carried element shapes of the flat scan outputs (the fixed sizes,
    // 0 where dynamic, until the first iteration: a loop that runs no
    // iteration gives an empty [0, 0, ...] where ONNX has [0, batch, ...]).
    let flat_ks: Vec<usize> = (0..n_scan).filter(|k| flat[*k].is_some()).collect();
    for &k in &flat_ks {
        let s = flat[k].as_ref().map(|s| s.dims().iter().map(|d| d.fixed().map_or(0, |v| v as i32)).collect::<Vec<i32>>()).unwrap_or_default();
        vars.push(ctx.g.constant_i32(&format!("{name}_scan{k}_shape"), Shape::new([s.len() as u32]), &s));
    }
    let mut shapes: Vec<Shape> = vars.iter().map(|t| ctx.shape(*t).clone()).collect();
    // Scan outputs grow by one row per iteration.
    for s in shapes.iter_mut().skip(3 + n_carried).take(n_scan) {
        let mut d = s.dims().to_vec();
        d[0] = Dim::Dynamic;
        *s = Shape::from_dims(d);
    }
    let dtypes: Vec<DType> = vars.iter().map(|t| ctx.dtype(*t)).collect();
    // Carried values whose shape the body changes are made dynamic, and the
    // body lowered again (at most once per dimension).
    let mut attempt = 0;
    let (bb, body_outs) = loop {
        attempt += 1;
        let mut inputs: Vec<(String, DType, Shape)> = vec![
            (body.inputs[0].clone(), DType::I32, Shape::scalar()),
            (String::new(), DType::I32, Shape::scalar()),
            (body.inputs[1].clone(), DType::Bool, Shape::scalar()),
        ];
        for k in 0..n_carried {
            inputs.push((body.inputs[2 + k].clone(), dtypes[3 + k], shapes[3 + k].clone()));
        }
        for k in 0..n_scan {
            inputs.push((String::new(), dtypes[3 + n_carried + k], shapes[3 + n_carried + k].clone()));
        }
        inputs.extend(cap_inputs.iter().cloned());
        for v in &vars[3 + n_carried + n_scan + n_caps..] {
            inputs.push((String::new(), DType::I32, ctx.shape(*v).clone()));
        }
        let (bb, outs) = ctx
            .lower_body(body, "loop_body", &inputs, consts.clone(), |_, _| Ok(Vec::new()), |c, ins| {
                let outs = c.graph_outputs(body)?;
                let one = c.g.constant_i32("one", Shape::scalar(), &[1]);
                let next = c.g.add(ins[0], one).map_err(OnnxError::Model)?;
                let go = scalar(c, outs[0])?;
                let mut res = vec![next, ins[1], go];
                for k in 0..n_carried {
                    res.push(cast_to(c, outs[1 + k], dtypes[3 + k])?);
                }
                let mut elem_shapes = Vec::new();
                for k in 0..n_scan {
                    let elem = cast_to(c, outs[1 + n_carried + k], dtypes[3 + n_carried + k])?;
                    if flat[k].is_some() {
                        let row = c.g.reshape(elem, &[-1]).map_err(OnnxError::Model)?;
                        res.push(c.g.concatenation(&[ins[3 + n_carried + k], row], 0).map_err(OnnxError::Model)?);
                        elem_shapes.push(c.g.apply(Op::Shape(ShapeOptions { out_type: DType::I32 }), &[Some(elem)]).map_err(OnnxError::Model)?);
                    } else {
                        res.push(append_row(c, ins[3 + n_carried + k], elem)?);
                    }
                }
                // Captures pass through (shared, not copied, by LiteRT).
                res.extend(ins[3 + n_carried + n_scan..3 + n_carried + n_scan + n_caps].iter().copied());
                res.extend(elem_shapes);
                Ok(res)
            })
            .map_err(|e| ctx.nest(e))?;
        let changed = relax_all(&mut shapes, &bb, &outs)?;
        if !changed || attempt > 3 {
            break (bb, outs);
        }
    };
    // cond(i, m, c, ...) = i < m && c
    let ci = counter_cond(ctx, "loop_cond", &shapes, &dtypes, true)?;
    let bi = ctx.finish_body(bb, &body_outs)?;
    let outs = ctx.g.while_loop(&ctx.mb, ci, bi, &vars)?;
    for k in 0..n_carried {
        ctx.set_output(node, k, outs[3 + k]);
    }
    for k in 0..n_scan {
        let mut t = outs[3 + n_carried + k];
        if let Some(elem) = &flat[k] {
            // [iterations] ++ the element's shape.
            let pos = flat_ks.iter().position(|j| *j == k).ok_or_else(|| LowerError::invalid("flat scan output"))?;
            let count = ctx.g.reshape(outs[0], &[1])?;
            let shape = ctx.g.concatenation(&[count, outs[3 + n_carried + n_scan + n_caps + pos]], 0)?;
            t = ctx.g.apply(Op::Reshape { new_shape: None }, &[Some(t), Some(shape)])?;
            ctx.g.tensor_mut(t).shape = Shape::from_dims(std::iter::once(Dim::Dynamic).chain(elem.dims().iter().copied()).collect());
        }
        ctx.set_output(node, n_carried + k, t);
    }
    ctx.forms.push((node.name(), format!("WHILE (cond subgraph {ci}, body subgraph {bi})")));
    Ok(())
}

/// Lowers `Scan` (opset 9 and later).
pub fn lower_scan(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if node.opset() < 9 {
        return Err(LowerError::new(ReasonCode::UnsupportedOpset, "Scan before opset 9 (batched, with sequence_lens)"));
    }
    let body = graph_attr(node, "body")?;
    let m = usize::try_from(node.int_or("num_scan_inputs", 0)?).map_err(|_| LowerError::invalid("num_scan_inputs is negative"))?;
    let n_state = node.num_inputs().checked_sub(m).ok_or_else(|| LowerError::invalid("num_scan_inputs exceeds the inputs"))?;
    if m == 0 || body.inputs.len() != n_state + m {
        return Err(LowerError::invalid(format!("the body has {} inputs for {n_state} states and {m} scan inputs", body.inputs.len())));
    }
    let k_out = body.outputs.len().checked_sub(n_state).ok_or_else(|| LowerError::invalid("the body has too few outputs"))?;
    let in_axes = node.attr_ints("scan_input_axes")?.unwrap_or_else(|| vec![0; m]);
    let in_dirs = node.attr_ints("scan_input_directions")?.unwrap_or_else(|| vec![0; m]);
    let out_axes = node.attr_ints("scan_output_axes")?.unwrap_or_else(|| vec![0; k_out]);
    let out_dirs = node.attr_ints("scan_output_directions")?.unwrap_or_else(|| vec![0; k_out]);
    if in_axes.len() != m || in_dirs.len() != m || out_axes.len() != k_out || out_dirs.len() != k_out {
        return Err(LowerError::invalid("scan axes or directions do not match the scan inputs and outputs"));
    }
    let mut scan_ins = Vec::with_capacity(m);
    let mut len: Option<usize> = None;
    let mut dynamic = false;
    for j in 0..m {
        let t = ctx.input(node, n_state + j)?;
        let rank = ctx.shape(t).rank() as i64;
        let axis = if in_axes[j] < 0 { in_axes[j] + rank } else { in_axes[j] };
        if !(0..rank).contains(&axis) {
            return Err(LowerError::invalid(format!("scan input axis {} out of range for rank {rank}", in_axes[j])));
        }
        match ctx.shape(t).dims()[axis as usize] {
            Dim::Fixed(n) => {
                if len.is_some_and(|l| l != n as usize) {
                    return Err(LowerError::invalid("scan inputs differ in length"));
                }
                len = Some(n as usize);
            }
            Dim::Dynamic => dynamic = true,
        }
        scan_ins.push((t, axis as i32));
    }
    let len = len.unwrap_or(0);
    if dynamic || len as i64 > MAX_UNROLL || !unroll_fits(ctx, body, len) {
        let dirs = Directions { in_dirs: &in_dirs, out_axes: &out_axes, out_dirs: &out_dirs };
        return scan_while(ctx, node, body, n_state, &scan_ins, &dirs);
    }
    let mut state: Vec<Val> = (0..n_state)
        .map(|k| {
            let name = node.inner.input(k).ok_or_else(|| LowerError::invalid(format!("state input {k} is empty")))?;
            ctx.env.get(name).cloned().ok_or_else(|| LowerError::invalid(format!("value {name:?} is not available")))
        })
        .collect::<Result<_, _>>()?;
    let mut outs_per_step: Vec<Vec<Val>> = vec![Vec::new(); k_out];
    for step in 0..len {
        let mut bindings: Vec<(String, Val)> = Vec::new();
        let copy = renamed(body, &format!("#{}.{step}", node.name()));
        for (k, v) in state.iter().enumerate() {
            bindings.push((copy.inputs[k].clone(), v.clone()));
        }
        for (j, (t, axis)) in scan_ins.iter().enumerate() {
            let at = if in_dirs[j] != 0 { len - 1 - step } else { step };
            let idx = ctx.g.constant_i32(&format!("{}_at{step}", node.name()), Shape::scalar(), &[at as i32]);
            let slice = ctx.g.gather(*t, idx, GatherOptions { axis: *axis, batch_dims: 0 })?;
            bindings.push((copy.inputs[n_state + j].clone(), Val::Tensor(slice)));
        }
        let outs = ctx.inline_graph(&copy, bindings).map_err(|e| ctx.nest(e))?;
        state = outs[..n_state].to_vec();
        for (k, v) in outs[n_state..].iter().enumerate() {
            outs_per_step[k].push(v.clone());
        }
    }
    for (k, v) in state.into_iter().enumerate() {
        ctx.set_val(node, k, v);
    }
    for (k, mut vals) in outs_per_step.into_iter().enumerate() {
        if node.inner.outputs.get(n_state + k).is_none_or(|o| o.is_empty()) {
            continue;
        }
        if vals.is_empty() {
            return Err(LowerError::new(ReasonCode::UnsupportedShape, "Scan over an empty sequence"));
        }
        if out_dirs[k] != 0 {
            vals.reverse();
        }
        let rank = match &vals[0] {
            Val::Tensor(t) => ctx.shape(*t).rank() as i64,
            Val::Const(d) => d.dims.len() as i64,
            Val::Shape { scalar, .. } => i64::from(!*scalar),
        } + 1;
        let axis = if out_axes[k] < 0 { out_axes[k] + rank } else { out_axes[k] };
        if !(0..rank).contains(&axis) {
            return Err(LowerError::invalid(format!("scan output axis {} out of range", out_axes[k])));
        }
        let t = stack(ctx, &vals, axis as i32, &format!("{}_scan{k}", node.name()))?;
        ctx.set_output(node, n_state + k, t);
    }
    ctx.forms.push((node.name(), format!("unrolled over {len} steps")));
    Ok(())
}

/// A Scan's directions and output axes.
struct Directions<'a> {
    in_dirs: &'a [i64],
    out_axes: &'a [i64],
    out_dirs: &'a [i64],
}

/// A Scan as WHILE over `[t, T, states..., outputs so far..., scan
/// inputs..., captures...]`: the body reads slice `t` (or `T - 1 - t`) of
/// each scan input with GATHER and appends each output row by
/// CONCATENATION; reversed outputs are reversed (REVERSE_V2) and moved to
/// their axis (TRANSPOSE) after the loop.
fn scan_while(ctx: &mut LowerCtx<'_>, node: &Node<'_>, body: &OGraph, n_state: usize, scan_ins: &[(TensorId, i32)], d: &Directions<'_>) -> Result<(), LowerError> {
    let name = node.name();
    let m = scan_ins.len();
    let k_out = body.outputs.len() - n_state;
    let (first, axis0) = scan_ins[0];
    let shape = ctx.g.shape(first, crate::model::ShapeOptions { out_type: DType::I32 })?;
    let so = crate::model::StridedSliceOptions { shrink_axis_mask: 1, ..Default::default() };
    let t_len = ctx.g.strided_slice(shape, &[axis0], &[axis0 + 1], &[1], so)?;
    let zero = ctx.g.constant_i32(&format!("{name}_t0"), Shape::scalar(), &[0]);
    let mut vars = vec![zero, t_len];
    for k in 0..n_state {
        vars.push(ctx.input(node, k)?);
    }
    for k in 0..k_out {
        vars.push(empty_scan_output(ctx, body, &body.outputs[n_state + k])?);
    }
    vars.extend(scan_ins.iter().map(|(t, _)| *t));
    let Captures { args, inputs: cap_inputs, consts } = ctx.capture(&body.captures)?;
    vars.extend(args.iter().copied());
    let mut shapes: Vec<Shape> = vars.iter().map(|t| ctx.shape(*t).clone()).collect();
    for s in shapes.iter_mut().skip(2 + n_state).take(k_out) {
        let mut dims = s.dims().to_vec();
        dims[0] = Dim::Dynamic;
        *s = Shape::from_dims(dims);
    }
    let dtypes: Vec<DType> = vars.iter().map(|t| ctx.dtype(*t)).collect();
    let first_in = 2 + n_state + k_out;
    let mut attempt = 0;
    let (bb, body_outs) = loop {
        attempt += 1;
        let mut inputs: Vec<(String, DType, Shape)> = vec![(String::new(), DType::I32, Shape::scalar()), (String::new(), DType::I32, Shape::scalar())];
        for k in 0..n_state {
            inputs.push((body.inputs[k].clone(), dtypes[2 + k], shapes[2 + k].clone()));
        }
        for k in 0..k_out + m {
            inputs.push((String::new(), dtypes[2 + n_state + k], shapes[2 + n_state + k].clone()));
        }
        inputs.extend(cap_inputs.iter().cloned());
        let prelude = |c: &mut LowerCtx<'_>, ins: &[TensorId]| -> Result<Vec<(String, Val)>, OnnxError> {
            let mut bound = Vec::with_capacity(m);
            for (j, (_, axis)) in scan_ins.iter().enumerate() {
                let idx = if d.in_dirs[j] != 0 {
                    let one = c.g.constant_i32("one", Shape::scalar(), &[1]);
                    let last = c.g.sub(ins[1], one).map_err(OnnxError::Model)?;
                    c.g.sub(last, ins[0]).map_err(OnnxError::Model)?
                } else {
                    ins[0]
                };
                let slice = c.g.gather(ins[first_in + j], idx, GatherOptions { axis: *axis, batch_dims: 0 }).map_err(OnnxError::Model)?;
                bound.push((body.inputs[n_state + j].clone(), Val::Tensor(slice)));
            }
            Ok(bound)
        };
        let (bb, outs) = ctx
            .lower_body(body, "scan_body", &inputs, consts.clone(), prelude, |c, ins| {
                let outs = c.graph_outputs(body)?;
                let one = c.g.constant_i32("one", Shape::scalar(), &[1]);
                let next = c.g.add(ins[0], one).map_err(OnnxError::Model)?;
                let mut res = vec![next, ins[1]];
                for k in 0..n_state {
                    res.push(cast_to(c, outs[k], dtypes[2 + k])?);
                }
                for k in 0..k_out {
                    let elem = cast_to(c, outs[n_state + k], dtypes[2 + n_state + k])?;
                    res.push(append_row(c, ins[2 + n_state + k], elem)?);
                }
                res.extend(ins[first_in..].iter().copied());
                Ok(res)
            })
            .map_err(|e| ctx.nest(e))?;
        let changed = relax_all(&mut shapes, &bb, &outs)?;
        if !changed || attempt > 3 {
            break (bb, outs);
        }
    };
    let ci = counter_cond(ctx, "scan_cond", &shapes, &dtypes, false)?;
    let bi = ctx.finish_body(bb, &body_outs)?;
    let outs = ctx.g.while_loop(&ctx.mb, ci, bi, &vars)?;
    for k in 0..n_state {
        ctx.set_output(node, k, outs[2 + k]);
    }
    for k in 0..k_out {
        let mut y = outs[2 + n_state + k];
        if d.out_dirs[k] != 0 {
            let ax = ctx.g.constant_i32(&format!("{name}_rev{k}"), Shape::new([1]), &[0]);
            y = ctx.g.reverse_v2(y, ax)?;
        }
        let rank = ctx.shape(y).rank() as i64;
        let axis = if d.out_axes[k] < 0 { d.out_axes[k] + rank } else { d.out_axes[k] };
        if !(0..rank).contains(&axis) {
            return Err(LowerError::invalid(format!("scan output axis {} out of range", d.out_axes[k])));
        }
        if axis != 0 {
            // Move axis 0 to `axis`.
            let mut perm: Vec<i32> = (1..rank as i32).collect();
            perm.insert(axis as usize, 0);
            y = ctx.g.transpose(y, &perm)?;
        }
        ctx.set_output(node, n_state + k, y);
    }
    ctx.forms.push((node.name(), format!("WHILE (cond subgraph {ci}, body subgraph {bi})")));
    Ok(())
}

//! Builder-tier cases of int8 and int16 data through the control-flow ops
//! (issue 8): quantized tensors pass into and out of `IF` branches and a
//! `WHILE` loop, whose subgraphs compute on them with int8 / int16 kernels
//! (ADD, SUB, MUL, MAXIMUM), and a `CALL_ONCE` init subgraph assigns a
//! quantized value to a resource variable that the main subgraph reads.
//! The runtime copies the stored integers across subgraphs and through
//! variables, so every tensor a value lands in has the parameters of the
//! tensor it comes from.

use super::*;

/// Parameters of the int8 or int16 data.
fn data_q(dtype: DType) -> Quantization {
    match dtype {
        DType::I8 => Quantization::per_tensor(0.05, -3),
        _ => Quantization::per_tensor(0.001, 0),
    }
}

/// Parameters of a sum or difference of two values of `data_q`.
fn sum_q(dtype: DType) -> Quantization {
    match dtype {
        // |a ± b| <= 12.9.
        DType::I8 => Quantization::per_tensor(13.0 / 127.0, 0),
        // |a ± b| <= 65.6.
        _ => Quantization::per_tensor(66.0 / 32767.0, 0),
    }
}

/// `IF` on a constant `flag` over quantized `a` and `b`: then gives
/// `(a + b, a * b)`, else `(a - b, max(a, b))`, each pair with the same
/// parameters in both branches. MAXIMUM copies stored integers (its
/// output has its inputs' parameters), so the product takes them too and
/// saturates.
fn if_model(dtype: DType, flag: bool) -> Model {
    let shape = [2u32, 3];
    let q = data_q(dtype);
    let pq = sum_q(dtype);
    let qq = q.clone();
    let mut b = ModelBuilder::new();
    let mut main = b.reserve_subgraph("main");
    let branch = |b: &mut ModelBuilder, then: bool| -> Result<u32, ValidationError> {
        let mut g = b.subgraph(if then { "then" } else { "else" });
        let x = g.input("a", dtype, shape);
        let y = g.input("b", dtype, shape);
        g.set_quantization(x, q.clone());
        g.set_quantization(y, q.clone());
        let (p, r) = if then { (g.add(x, y)?, g.mul(x, y)?) } else { (g.sub(x, y)?, g.maximum(x, y)?) };
        g.set_quantization(p, pq.clone());
        g.set_quantization(r, qq.clone());
        g.output("p", p);
        g.output("q", r);
        b.finish_subgraph(g)
    };
    let then = branch(&mut b, true).expect("then branch");
    let otherwise = branch(&mut b, false).expect("else branch");
    let a = main.input("a", dtype, shape);
    let x = main.input("b", dtype, shape);
    main.set_quantization(a, q.clone());
    main.set_quantization(x, q.clone());
    let cond = main.constant("flag", DType::Bool, Shape::scalar(), ConstData::from_slice(&[u8::from(flag)]));
    let out = main.if_then_else(&b, cond, then, otherwise, &[a, x]).expect("IF");
    main.output("p", out[0]);
    main.output("q", out[1]);
    b.finish_subgraph(main).expect("main");
    b.signature("serving_default", 0);
    b.finish().expect("model")
}

/// `WHILE` over `(acc, i)`: `while i < 10 { acc = acc + step; i += 1 }`
/// from the quantized input `acc` (the sum saturates at the type's end)
/// and `i = 0`; the cond compares the quantized `acc` too, so the loop
/// stops early once every element reaches `stop`.
fn while_model(dtype: DType) -> Model {
    let shape = [2u32, 3];
    let q = data_q(dtype);
    // One step: 5 int8 steps of 0.05, 300 int16 steps of 0.001; stop at a
    // value the loop reaches from some inputs only.
    let (step, stop) = match dtype {
        DType::I8 => (5i64, 100i64),
        _ => (300, 2000),
    };
    let konst = |g: &mut SubgraphBuilder, name: &str, v: i64| {
        let data = match dtype {
            DType::I8 => ConstData::from_slice(&[v as i8]),
            _ => ConstData::from_slice(&[v as i16]),
        };
        let c = g.constant(name, dtype, [1], data);
        g.set_quantization(c, q.clone());
        c
    };
    let mut b = ModelBuilder::new();
    let mut main = b.reserve_subgraph("main");
    // cond(acc, i): i < 10 and min(acc) < stop.
    let mut cond = b.subgraph("cond");
    let acc = cond.input("acc", dtype, shape);
    cond.set_quantization(acc, q.clone());
    let i = cond.input("i", DType::I32, Shape::scalar());
    let lim = cond.constant_i32("limit", Shape::scalar(), &[10]);
    let more = cond.apply(Op::Less, &[Some(i), Some(lim)]).expect("less");
    let s = konst(&mut cond, "stop", stop);
    let below = cond.apply(Op::Less, &[Some(acc), Some(s)]).expect("less");
    let any = cond.apply(Op::LogicalNot, &[Some(below)]).expect("not");
    let axes = cond.constant_i32("axes", [2], &[0, 1]);
    let all_reached = cond.apply(Op::ReduceAll(ReducerOptions::default()), &[Some(any), Some(axes)]).expect("all");
    let not_done = cond.apply(Op::LogicalNot, &[Some(all_reached)]).expect("not");
    let go = cond.apply(Op::LogicalAnd, &[Some(more), Some(not_done)]).expect("and");
    cond.output("go", go);
    let cond = b.finish_subgraph(cond).expect("cond");
    let mut body = b.subgraph("body");
    let acc = body.input("acc", dtype, shape);
    body.set_quantization(acc, q.clone());
    let i = body.input("i", DType::I32, Shape::scalar());
    let c = konst(&mut body, "step", step);
    let next_acc = body.add(acc, c).expect("add");
    body.set_quantization(next_acc, q.clone());
    let one = body.constant_i32("one", Shape::scalar(), &[1]);
    let next_i = body.add(i, one).expect("add");
    body.output("next_acc", next_acc);
    body.output("next_i", next_i);
    let body = b.finish_subgraph(body).expect("body");
    let x = main.input("x", dtype, shape);
    main.set_quantization(x, q.clone());
    let zero = main.constant_i32("i0", Shape::scalar(), &[0]);
    let out = main.while_loop(&b, cond, body, &[x, zero]).expect("WHILE");
    main.output("acc", out[0]);
    main.output("i", out[1]);
    b.finish_subgraph(main).expect("main");
    b.signature("serving_default", 0);
    b.finish().expect("model")
}

/// `CALL_ONCE` of an init subgraph that assigns a quantized constant
/// `[[-100, ..]]` to the resource variable `v`; the main subgraph reads
/// `v` (the type and parameters of the assigned value) and adds the
/// quantized input `x`.
fn call_once_model(dtype: DType) -> Model {
    let shape = [2u32, 3];
    let q = data_q(dtype);
    let raw: [i64; 6] = match dtype {
        DType::I8 => [-100, -7, 0, 3, 64, 127],
        _ => [-30000, -700, 0, 300, 6400, 32767],
    };
    let data = match dtype {
        DType::I8 => ConstData::from_slice(&raw.map(|v| v as i8)),
        _ => ConstData::from_slice(&raw.map(|v| v as i16)),
    };
    let mut var = VarHandleOptions::default();
    var.shared_name = "v".into();
    let mut b = ModelBuilder::new();
    let mut main = b.reserve_subgraph("main");
    let mut init = b.subgraph("init");
    let h = init.var_handle(&[], var.clone()).expect("var_handle");
    let c = init.constant("v0", dtype, shape, data);
    init.set_quantization(c, q.clone());
    init.assign_variable(h, c).expect("assign_variable");
    let init = b.finish_subgraph(init).expect("init");
    main.call_once(&b, init).expect("CALL_ONCE");
    let h = main.var_handle(&[], var).expect("var_handle");
    let mut t = Tensor::new("v", dtype, shape);
    t.quantization = Some(q.clone());
    let v = main.add_tensor(t);
    main.add_operator(Operator::new(Op::ReadVariable, &[h], &[v])).expect("read_variable");
    let x = main.input("x", dtype, shape);
    main.set_quantization(x, q.clone());
    let y = main.add(v, x).expect("add");
    main.set_quantization(y, sum_q(dtype));
    main.output("y", y);
    b.finish_subgraph(main).expect("main");
    b.signature("serving_default", 0);
    b.finish().expect("model")
}

/// The cases.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (tag, dtype, tol) in [("int8", DType::I8, 1), ("int16", DType::I16, 2)] {
        for (branch, flag) in [("then", true), ("else", false)] {
            let mut c = Case::new(format!("{tag}/control_flow/if_{branch}"), if_model(dtype, flag));
            c.signature = Some("serving_default".into());
            c.quant_tol = tol;
            v.push(c);
        }
        let mut c = Case::new(format!("{tag}/control_flow/while_loop"), while_model(dtype));
        c.signature = Some("serving_default".into());
        c.quant_tol = 0;
        v.push(c);
        let mut c = Case::new(format!("{tag}/control_flow/call_once"), call_once_model(dtype));
        c.signature = Some("serving_default".into());
        c.quant_tol = tol;
        v.push(c);
    }
    v
}

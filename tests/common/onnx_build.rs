//! A small ONNX model builder for tests and examples (protobuf via
//! `onnx-protobuf`).
#![allow(dead_code)]

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_shape_proto, type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

pub const FLOAT: i32 = 1;
pub const INT64: i32 = 7;

/// Builds one ONNX graph.
pub struct OnnxBuilder {
    graph: GraphProto,
    opset: i64,
    counter: usize,
}

pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::INT.into();
    a.i = v;
    a
}

pub fn attr_float(name: &str, v: f32) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::FLOAT.into();
    a.f = v;
    a
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::INTS.into();
    a.ints = v.to_vec();
    a
}

pub fn attr_str(name: &str, v: &str) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::STRING.into();
    a.s = v.as_bytes().to_vec();
    a
}

fn value_info(name: &str, elem: i32, dims: &[Option<i64>]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    for (i, d) in dims.iter().enumerate() {
        let mut dim = tensor_shape_proto::Dimension::new();
        dim.value = Some(match d {
            Some(n) => tensor_shape_proto::dimension::Value::DimValue(*n),
            None => tensor_shape_proto::dimension::Value::DimParam(if i == 0 { "batch".into() } else { format!("d{i}") }),
        });
        shape.dim.push(dim);
    }
    let mut tt = type_proto::Tensor::new();
    tt.elem_type = elem;
    tt.shape = Some(shape).into();
    let mut tp = TypeProto::new();
    tp.value = Some(type_proto::Value::TensorType(tt));
    let mut vi = ValueInfoProto::new();
    vi.name = name.into();
    vi.type_ = Some(tp).into();
    vi
}

impl OnnxBuilder {
    pub fn new(opset: i64) -> OnnxBuilder {
        OnnxBuilder { graph: GraphProto::new(), opset, counter: 0 }
    }

    /// A graph input; `None` dims are symbolic.
    pub fn input(&mut self, name: &str, elem: i32, dims: &[Option<i64>]) -> String {
        self.graph.input.push(value_info(name, elem, dims));
        name.to_string()
    }

    /// A graph output.
    pub fn output(&mut self, name: &str, elem: i32, dims: &[Option<i64>]) {
        self.graph.output.push(value_info(name, elem, dims));
    }

    /// A float initializer.
    pub fn init_f32(&mut self, name: &str, dims: &[i64], data: &[f32]) -> String {
        let mut t = TensorProto::new();
        t.name = name.into();
        t.data_type = FLOAT;
        t.dims = dims.to_vec();
        t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(t);
        name.to_string()
    }

    /// An initializer of ONNX element type `elem` from little-endian bytes.
    pub fn init_raw(&mut self, name: &str, elem: i32, dims: &[i64], raw: Vec<u8>) -> String {
        let mut t = TensorProto::new();
        t.name = name.into();
        t.data_type = elem;
        t.dims = dims.to_vec();
        t.raw_data = raw;
        self.graph.initializer.push(t);
        name.to_string()
    }

    /// An int64 initializer.
    pub fn init_i64(&mut self, name: &str, dims: &[i64], data: &[i64]) -> String {
        let mut t = TensorProto::new();
        t.name = name.into();
        t.data_type = INT64;
        t.dims = dims.to_vec();
        t.int64_data = data.to_vec();
        self.graph.initializer.push(t);
        name.to_string()
    }

    /// A node with one output; returns the output name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.counter += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.counter);
        self.node_named(op, inputs, &[&out], attrs);
        out
    }

    /// A node with explicit output names.
    pub fn node_named(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) {
        let mut n = NodeProto::new();
        n.op_type = op.into();
        n.name = format!("{op}_{}", self.counter);
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = outputs.iter().map(|s| s.to_string()).collect();
        n.attribute = attrs;
        self.graph.node.push(n);
    }

    /// A node of a custom domain (imported at version 1); returns its output.
    pub fn node_in_domain(&mut self, domain: &str, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.node(op, inputs, attrs);
        if let Some(n) = self.graph.node.last_mut() {
            n.domain = domain.into();
        }
        out
    }

    /// Serializes the model.
    pub fn build(mut self) -> Vec<u8> {
        self.graph.name = "graph".into();
        let mut m = ModelProto::new();
        m.ir_version = 8;
        m.producer_name = "tflite-forge tests".into();
        let mut o = OperatorSetIdProto::new();
        o.version = self.opset;
        m.opset_import.push(o);
        let mut domains: Vec<String> = self.graph.node.iter().map(|n| n.domain.clone()).filter(|d| !d.is_empty()).collect();
        domains.sort();
        domains.dedup();
        for d in domains {
            let mut o = OperatorSetIdProto::new();
            o.domain = d;
            o.version = 1;
            m.opset_import.push(o);
        }
        m.graph = Some(self.graph).into();
        m.write_to_bytes().expect("serialize ONNX")
    }
}

/// A graph-valued attribute (the body of If, Loop or Scan).
pub fn attr_graph(name: &str, g: GraphProto) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a.type_ = AttributeType::GRAPH.into();
    a.g = Some(g).into();
    a
}

impl OnnxBuilder {
    /// The graph built so far, as the body of a control-flow node.
    pub fn into_graph(mut self, name: &str) -> GraphProto {
        self.graph.name = name.into();
        self.graph
    }

    /// A bool initializer.
    pub fn init_bool(&mut self, name: &str, dims: &[i64], data: &[bool]) -> String {
        let mut t = TensorProto::new();
        t.name = name.into();
        t.data_type = 9;
        t.dims = dims.to_vec();
        t.raw_data = data.iter().map(|b| u8::from(*b)).collect();
        self.graph.initializer.push(t);
        name.to_string()
    }
}

/// Conversion options of the op tests: the ONNX (NCHW) interface kept.
pub fn nchw_opts() -> tflite_forge::onnx::ConvertOptions {
    let mut o = tflite_forge::onnx::ConvertOptions::default();
    o.layout = tflite_forge::onnx::IoLayout::KeepNchw;
    o
}

/// The model converted with [`nchw_opts`]; panics with the error otherwise.
pub fn to_model(b: OnnxBuilder) -> tflite_forge::Model {
    match tflite_forge::onnx::convert(&b.build(), &nchw_opts()) {
        Ok(c) => c.model,
        Err(e) => panic!("conversion failed: {e}"),
    }
}

/// The reason code of a conversion that must fail with a typed node error.
pub fn reason(b: OnnxBuilder) -> tflite_forge::onnx::ReasonCode {
    match tflite_forge::onnx::convert(&b.build(), &nchw_opts()) {
        Err(tflite_forge::onnx::OnnxError::UnsupportedOnnxOp { reason_code, .. }) => reason_code,
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("conversion unexpectedly succeeded"),
    }
}

/// Runs subgraph 0 of `m` in the reference evaluator.
pub fn run(m: &tflite_forge::Model, inputs: Vec<tflite_forge::eval::Value>) -> Vec<tflite_forge::eval::Value> {
    tflite_forge::eval::Evaluator::new(m).run(0, &inputs).expect("evaluation succeeds")
}

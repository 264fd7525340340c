//! Versions of the control-flow ops IF, WHILE and CALL_ONCE.

use crate::model::{Op, Operator, Subgraph};

/// The version of a control-flow op; `None` for the ops of other families.
pub(super) fn version(_sg: &Subgraph, node: &Operator) -> Option<i32> {
    let v = match &node.op {
        // TFLite has one version of each control-flow op.
        Op::If { .. } | Op::While { .. } | Op::CallOnce { .. } => 1,
        _ => return None,
    };
    Some(v)
}

/// The lowest runtimes of the versions of a control-flow op (version 1 first);
/// `None` for the ops of other families.
pub(super) fn min_runtime_table(code: i32) -> Option<&'static [&'static str]> {
    use crate::schema::tflite::BuiltinOperator as B;
    let table: &'static [&'static str] = match B(code) {
        B::IF | B::WHILE => &["1.15.0"],
        B::CALL_ONCE => &["2.5.0"],
        _ => return None,
    };
    Some(table)
}

//! Triangular parts of matrices: Trilu, as SELECT_V2 between the input and
//! zero on a mask of the last two dimensions.

use super::operand::{dtype_err, shape_err, typed_const};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `Trilu`: a constant diagonal offset `k` gives a constant mask; a
/// run-time `k` is compared with the constant `j - i` grid.
pub fn lower_trilu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let dt = ctx.dtype(x);
    if !matches!(dt, DType::F32 | DType::I8 | DType::U8 | DType::I16 | DType::I32 | DType::I64 | DType::Bool) {
        return Err(dtype_err(format!("Trilu on {dt}")));
    }
    let upper = node.int_or("upper", 1)? != 0;
    let s = ctx.shape(x).clone();
    let r = s.rank();
    if r < 2 {
        return Err(LowerError::invalid(format!("Trilu on rank {r}")));
    }
    let (Some(n), Some(m)) = (s.dims()[r - 2].fixed(), s.dims()[r - 1].fixed()) else {
        return Err(shape_err(format!("Trilu needs static matrix dimensions, has {s}")));
    };
    let (n, m) = (i64::from(n), i64::from(m));
    let name = node.name();
    let keep = |d: i64, k: i64| if upper { d >= k } else { d <= k };
    let mask = if !node.has_input(1) || ctx.const_input(node, 1).is_some() {
        let k = if node.has_input(1) {
            *ctx.const_ints(node, 1, "k")?.first().ok_or_else(|| LowerError::invalid("empty k"))?
        } else {
            0
        };
        let bytes: Vec<u8> = (0..n * m).map(|f| u8::from(keep(f % m.max(1) - f / m.max(1), k))).collect();
        ctx.g.constant(&format!("{name}/mask"), DType::Bool, Shape::new([n as u32, m as u32]), ConstData::from_bytes(bytes))
    } else {
        // Compared in k's own type: a cast to int32 could wrap a huge k.
        let k = ctx.input(node, 1)?;
        let kt = ctx.dtype(k);
        let grid: Vec<f64> = (0..n * m).map(|f| (f % m.max(1) - f / m.max(1)) as f64).collect();
        let g = match kt {
            DType::I64 | DType::I32 => typed_const(ctx, &format!("{name}/diagonal_offset"), kt, &[n as usize, m as usize], &grid)?,
            t => return Err(dtype_err(format!("Trilu k of type {t}"))),
        };
        let op = if upper { Op::GreaterEqual } else { Op::LessEqual };
        ctx.g.apply(op, &[Some(g), Some(k)])?
    };
    let zero = typed_const(ctx, &format!("{name}/zero"), dt, &[], &[0.0])?;
    let y = ctx.g.apply(Op::SelectV2, &[Some(mask), Some(x), Some(zero)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

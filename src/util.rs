//! Small shared helpers.

/// Transposes a row-major array of `es`-byte elements with dimensions
/// `dims` by `perm` (`out.dims[i] = dims[perm[i]]`). Returns `None` when the
/// sizes do not agree.
pub(crate) fn transpose_bytes(bytes: &[u8], es: usize, dims: &[usize], perm: &[usize]) -> Option<Vec<u8>> {
    let r = dims.len();
    let n = dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d))?;
    if bytes.len() != n.checked_mul(es)? || perm.len() != r || es == 0 {
        return None;
    }
    let mut seen = vec![false; r];
    for p in perm {
        if *p >= r || std::mem::replace(&mut seen[*p], true) {
            return None;
        }
    }
    let mut out = vec![0u8; bytes.len()];
    match es {
        1 => copy_elements::<1>(bytes, &mut out, dims, perm),
        2 => copy_elements::<2>(bytes, &mut out, dims, perm),
        4 => copy_elements::<4>(bytes, &mut out, dims, perm),
        8 => copy_elements::<8>(bytes, &mut out, dims, perm),
        _ => {
            for (o, src) in out.chunks_exact_mut(es).zip(transpose_indices(dims, perm)) {
                o.copy_from_slice(&bytes[src * es..(src + 1) * es]);
            }
        }
    }
    Some(out)
}

/// Copies `N`-byte elements into `out` in transposed order.
fn copy_elements<const N: usize>(bytes: &[u8], out: &mut [u8], dims: &[usize], perm: &[usize]) {
    let src: &[[u8; N]] = bytemuck::cast_slice(bytes);
    let dst: &mut [[u8; N]] = bytemuck::cast_slice_mut(out);
    for (d, i) in dst.iter_mut().zip(transpose_indices(dims, perm)) {
        *d = src[i];
    }
}

/// Source indices in output order, walked incrementally.
fn transpose_indices(dims: &[usize], perm: &[usize]) -> impl Iterator<Item = usize> {
    let r = dims.len();
    let n: usize = dims.iter().product();
    let mut strides = vec![1usize; r];
    for i in (0..r.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * dims[i + 1];
    }
    let out_dims: Vec<usize> = perm.iter().map(|p| dims[*p]).collect();
    let out_strides: Vec<usize> = perm.iter().map(|p| strides[*p]).collect();
    let mut coord = vec![0usize; r];
    let mut src = 0usize;
    (0..n).map(move |_| {
        let cur = src;
        for i in (0..r).rev() {
            coord[i] += 1;
            src += out_strides[i];
            if coord[i] < out_dims[i] {
                break;
            }
            src -= out_strides[i] * out_dims[i];
            coord[i] = 0;
        }
        cur
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn transposes_2x3() {
        let v: Vec<u32> = (0..6).collect();
        let out = super::transpose_bytes(bytemuck::cast_slice(&v), 4, &[2, 3], &[1, 0]).unwrap();
        let t: Vec<u32> = bytemuck::pod_collect_to_vec(&out);
        assert_eq!(t, [0, 3, 1, 4, 2, 5]);
        assert!(super::transpose_bytes(&[0u8; 5], 1, &[2, 3], &[1, 0]).is_none());
        assert!(super::transpose_bytes(&[0u8; 6], 1, &[2, 3], &[0, 0]).is_none());
    }
}

//! Small shared helpers.

/// Transposes a row-major array of `es`-byte elements with dimensions
/// `dims` by `perm` (`out.dims[i] = dims[perm[i]]`). Returns `None` when the
/// sizes do not agree.
pub(crate) fn transpose_bytes(bytes: &[u8], es: usize, dims: &[usize], perm: &[usize]) -> Option<Vec<u8>> {
    transpose_bytes_into(bytes, es, dims, perm, Vec::new())
}

/// [`transpose_bytes`] into `out`'s memory: its contents are overwritten
/// and its capacity reused when large enough.
pub(crate) fn transpose_bytes_into(bytes: &[u8], es: usize, dims: &[usize], perm: &[usize], mut out: Vec<u8>) -> Option<Vec<u8>> {
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
    if out.capacity() < bytes.len() {
        // Zeroed lazily by the allocator: the copy below is the first touch.
        out = vec![0u8; bytes.len()];
    } else {
        out.clear();
        out.resize(bytes.len(), 0);
    }
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
    // Most weight layouts are a (batched) swap of two blocks of axes, as
    // [in, out] -> [out, in] or OIHW -> OHWI: copy those in cache-sized
    // tiles instead of walking the source with a large stride.
    let (mdims, mperm) = merge_axes(dims, perm);
    let batched = match mperm.as_slice() {
        [1, 0] => Some((1, mdims[0], mdims[1])),
        [0, 2, 1] => Some((mdims[0], mdims[1], mdims[2])),
        _ => None,
    };
    if let Some((batch, rows, cols)) = batched {
        const TILE: usize = 32;
        for b in 0..batch {
            let (s, d) = (&src[b * rows * cols..(b + 1) * rows * cols], &mut dst[b * rows * cols..(b + 1) * rows * cols]);
            for r0 in (0..rows).step_by(TILE) {
                for c0 in (0..cols).step_by(TILE) {
                    for r in r0..(r0 + TILE).min(rows) {
                        for c in c0..(c0 + TILE).min(cols) {
                            d[c * rows + r] = s[r * cols + c];
                        }
                    }
                }
            }
        }
        return;
    }
    for (d, i) in dst.iter_mut().zip(transpose_indices(dims, perm)) {
        *d = src[i];
    }
}

/// Merges input axes that stay adjacent and in order under `perm` (and
/// drops axes of size 1): the same transpose on fewer axes.
fn merge_axes(dims: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let kept: Vec<usize> = perm.iter().copied().filter(|p| dims[*p] != 1).collect();
    // Runs of consecutive source axes, in output order.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for p in kept {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == p => *end = p,
            _ => runs.push((p, p)),
        }
    }
    let mut by_source: Vec<usize> = (0..runs.len()).collect();
    by_source.sort_by_key(|i| runs[*i].0);
    let mdims: Vec<usize> = by_source.iter().map(|i| (runs[*i].0..=runs[*i].1).map(|a| dims[a]).product()).collect();
    let mperm: Vec<usize> = (0..runs.len()).map(|i| by_source.iter().position(|j| *j == i).unwrap_or(0)).collect();
    (mdims, mperm)
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
    fn tiled_transposes_equal_the_element_walk() {
        // Every permutation of a few shapes, including unit axes, against
        // the plain index walk.
        let shapes: [&[usize]; 5] = [&[37, 70], &[3, 33, 65], &[2, 1, 40, 3], &[5, 7, 1, 9], &[4, 3, 2, 35]];
        for dims in shapes {
            let n: usize = dims.iter().product();
            let v: Vec<u32> = (0..n as u32).collect();
            let r = dims.len();
            let mut perm: Vec<usize> = (0..r).collect();
            let mut perms = vec![perm.clone()];
            // Heap's algorithm would do; rotations and swaps cover the cases.
            for i in 0..r {
                for j in i + 1..r {
                    perm.swap(i, j);
                    perms.push(perm.clone());
                    perms.push(perm.iter().rev().copied().collect());
                }
            }
            for p in perms {
                let got = super::transpose_bytes(bytemuck::cast_slice(&v), 4, dims, &p).unwrap();
                let want: Vec<u32> = super::transpose_indices(dims, &p).map(|i| v[i]).collect();
                assert_eq!(bytemuck::pod_collect_to_vec::<u8, u32>(&got), want, "dims {dims:?} perm {p:?}");
            }
        }
    }

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

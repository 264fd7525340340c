//! Resize computed with gathers (scales, sizes and roi given at run time,
//! fractional sizes, cubic, any axis) next to the RESIZE_* form, checked in
//! the reference evaluator against values worked out here. The ONNX node
//! suite checks the same lowerings in LiteRT.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::Value;
use tflite_forge::onnx::ReasonCode;
use tflite_forge::Model;

fn ops(m: &Model) -> Vec<&str> {
    m.subgraphs[0].operators.iter().map(|o| o.op.name()).collect()
}

/// `Resize(x, roi="", scales=input)`, nearest with the given rounding and
/// transform, x of shape `[1, 1, 2, 2]`.
fn runtime_scales(nearest_mode: &str, transform: &str) -> Model {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(2), Some(2)]);
    let s = b.input("scales", FLOAT, &[Some(4)]);
    let attrs = vec![attr_str("mode", "nearest"), attr_str("nearest_mode", nearest_mode), attr_str("coordinate_transformation_mode", transform)];
    let y = b.node("Resize", &[&x, "", &s], attrs);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    to_model(b)
}

#[test]
fn scales_given_at_run_time_resize_every_call_to_their_own_size() {
    let m = runtime_scales("round_prefer_floor", "half_pixel");
    assert!(ops(&m).contains(&"GATHER") && !ops(&m).contains(&"RESIZE_NEAREST_NEIGHBOR"), "{:?}", ops(&m));
    let x = Value::from_f32(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    // ×2 in both: half_pixel + round_prefer_floor picks 0,0,1,1.
    let y = run(&m, vec![x.clone(), Value::from_f32(vec![4], vec![1.0, 1.0, 2.0, 2.0])]);
    assert_eq!(y[0].shape, [1, 1, 4, 4]);
    assert_eq!(y[0].to_f32(), [1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]);
    // The same file with ×1.5 along W only: floor(2·1.5) = 3 columns,
    // sources (y+0.5)/1.5−0.5 = −1/6, 0.5, 7/6 → 0, 0 (half down), 1.
    let y = run(&m, vec![x.clone(), Value::from_f32(vec![4], vec![1.0, 1.0, 1.0, 1.5])]);
    assert_eq!(y[0].shape, [1, 1, 2, 3]);
    assert_eq!(y[0].to_f32(), [1., 1., 2., 3., 3., 4.]);
    // And the batch axis too: ONNX lets scales resize N.
    let y = run(&m, vec![x, Value::from_f32(vec![4], vec![2.0, 1.0, 1.0, 1.0])]);
    assert_eq!(y[0].shape, [2, 1, 2, 2]);
    assert_eq!(y[0].to_f32(), [1., 2., 3., 4., 1., 2., 3., 4.]);
}

#[test]
fn nearest_roundings_differ_exactly_at_halves() {
    // ×1.5 along W puts output column 1 at source 0.5 (half_pixel).
    let x = Value::from_f32(vec![1, 1, 1, 2], vec![10.0, 20.0]);
    let scales = Value::from_f32(vec![4], vec![1.0, 1.0, 1.0, 1.5]);
    let pick = |mode: &str| {
        let mut b = OnnxBuilder::new(13);
        let xi = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(2)]);
        let s = b.input("scales", FLOAT, &[Some(4)]);
        let y = b.node("Resize", &[&xi, "", &s], vec![attr_str("mode", "nearest"), attr_str("nearest_mode", mode)]);
        b.node_named("Identity", &[&y], &["y"], vec![]);
        b.output("y", FLOAT, &[None, None, None, None]);
        run(&to_model(b), vec![x.clone(), scales.clone()])[0].to_f32()
    };
    assert_eq!(pick("round_prefer_floor"), [10.0, 10.0, 20.0]);
    assert_eq!(pick("round_prefer_ceil"), [10.0, 20.0, 20.0]);
    assert_eq!(pick("floor"), [10.0, 10.0, 20.0]);
    assert_eq!(pick("ceil"), [10.0, 20.0, 20.0]);
}

#[test]
fn linear_with_a_fractional_constant_scale_and_constant_sizes() {
    // Linear, align_corners, W 3 → 5 (sizes): sources 0, 0.5, 1, 1.5, 2.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(3)]);
    let sizes = b.init_i64("sizes", &[4], &[1, 1, 1, 5]);
    let y = b.node("Resize", &[&x, "", "", &sizes], vec![attr_str("mode", "linear"), attr_str("coordinate_transformation_mode", "align_corners")]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(1), Some(1), Some(5)]);
    let m = to_model(b);
    let y = run(&m, vec![Value::from_f32(vec![1, 1, 1, 3], vec![0.0, 4.0, 8.0])]);
    assert_eq!(y[0].to_f32(), [0.0, 2.0, 4.0, 6.0, 8.0]);

    // Linear, half_pixel, W 4 × 0.6 = floor(2.4) = 2: not a whole size, so
    // gathers; sources (y + 0.5)/0.6 − 0.5 = 1/3 and 2.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(4)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 1.0, 0.6]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "linear")]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(1), Some(1), Some(2)]);
    let m = to_model(b);
    assert!(ops(&m).contains(&"GATHER"));
    assert_eq!(m.subgraphs[0].tensors[m.subgraphs[0].outputs[0].index()].shape.dims().len(), 4);
    let y = run(&m, vec![Value::from_f32(vec![1, 1, 1, 4], vec![0.0, 3.0, 6.0, 9.0])]);
    let got = y[0].to_f32();
    assert_eq!(y[0].shape, [1, 1, 1, 2]);
    assert!((got[0] - 1.0).abs() < 1e-5 && (got[1] - 6.0).abs() < 1e-5, "{got:?}");
}

#[test]
fn cubic_reproduces_a_linear_ramp_inside_and_the_native_form_stays_native() {
    // The cubic kernel (a = −0.75) reproduces linear functions where all
    // four taps are inside: asymmetric ×2 on a ramp 0, 1, …, 7.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(8)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 1.0, 2.0]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "cubic"), attr_str("coordinate_transformation_mode", "asymmetric")]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(1), Some(1), Some(16)]);
    let m = to_model(b);
    let got = run(&m, vec![Value::from_f32(vec![1, 1, 1, 8], (0..8).map(|v| v as f32).collect())])[0].to_f32();
    for (i, g) in got.iter().enumerate().take(12).skip(2) {
        assert!((g - i as f32 / 2.0).abs() < 1e-5, "position {i}: {g}");
    }

    // Nearest ×2 with constant scales is still one RESIZE_NEAREST_NEIGHBOR.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(2), Some(4), Some(4)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 2.0, 2.0]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "nearest"), attr_str("nearest_mode", "floor"), attr_str("coordinate_transformation_mode", "asymmetric")]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(2), Some(8), Some(8)]);
    let m = to_model(b);
    assert!(ops(&m).contains(&"RESIZE_NEAREST_NEIGHBOR") && !ops(&m).contains(&"GATHER"), "{:?}", ops(&m));
}

/// ONNX's reference antialias coefficients (`_linear_coeffs_antialias`,
/// `_cubic_coeffs_antialias`), `mode` "linear" or "cubic".
fn reference_coeffs(mode: &str, ratio: f64, scale: f64, a: f64) -> Vec<f64> {
    let scale = scale.min(1.0);
    let c: Vec<f64> = if mode == "linear" {
        let start = (-1.0 / scale).floor() as i64 + 1;
        (start..2 - start).map(|i| (1.0 - ((i as f64 - ratio) * scale).abs()).clamp(0.0, 1.0)).collect()
    } else {
        let start = (-2.0 / scale).floor() as i64 + 1;
        let f = |x: f64| {
            let x = x.abs();
            if x <= 1.0 {
                (a + 2.0) * x * x * x - (a + 3.0) * x * x + 1.0
            } else if x < 2.0 {
                a * x * x * x - 5.0 * a * x * x + 8.0 * a * x - 4.0 * a
            } else {
                0.0
            }
        };
        (start..2 - start).map(|i| f(scale * (i as f64 - ratio))).collect()
    };
    let sum: f64 = c.iter().sum();
    c.into_iter().map(|v| v / sum).collect()
}

/// ONNX's reference 1-D antialiased resize of `data` (the scalar
/// `_interpolate_1d_with_x` with `_get_neighbor`: the `n` nearest indices
/// of the edge-padded row, ties to the smaller).
fn reference_1d(data: &[f64], out: usize, scale: f64, mode: &str, transform: &str, a: f64, exclude_outside: bool) -> Vec<f64> {
    let len = data.len();
    (0..out)
        .map(|y| {
            let yf = y as f64;
            let x = match transform {
                "half_pixel" => (yf + 0.5) / scale - 0.5,
                "asymmetric" => yf / scale,
                "align_corners" => yf * (len as f64 - 1.0) / (scale * len as f64 - 1.0),
                other => panic!("transform {other}"),
            };
            let ratio = if x.fract() == 0.0 { 1.0 } else { x - x.floor() };
            let mut c = reference_coeffs(mode, ratio, scale, a);
            let n = c.len();
            let pad = n.div_ceil(2);
            let padded: Vec<f64> = (0..len + 2 * pad).map(|i| data[i.saturating_sub(pad).min(len - 1)]).collect();
            let xp = x + pad as f64;
            let mut idx: Vec<usize> = (0..padded.len()).collect();
            idx.sort_by(|p, q| ((xp - *p as f64).abs(), *p).partial_cmp(&((xp - *q as f64).abs(), *q)).unwrap());
            idx.truncate(n);
            idx.sort();
            if exclude_outside {
                for (k, i) in idx.iter().enumerate() {
                    if *i < pad || *i >= pad + len {
                        c[k] = 0.0;
                    }
                }
                let s: f64 = c.iter().sum();
                c.iter_mut().for_each(|v| *v /= s);
            }
            idx.iter().zip(&c).map(|(i, w)| padded[*i] * w).sum()
        })
        .collect()
}

/// The reference resize of an `[h, w]` plane to `[oh, ow]`, H then W.
#[allow(clippy::too_many_arguments)]
fn reference_2d(x: &[f64], [h, w]: [usize; 2], [oh, ow]: [usize; 2], [sh, sw]: [f64; 2], mode: &str, transform: &str, a: f64, excl: bool) -> Vec<f64> {
    let mut cols = vec![0.0; oh * w];
    for j in 0..w {
        let col: Vec<f64> = (0..h).map(|i| x[i * w + j]).collect();
        for (i, v) in reference_1d(&col, oh, sh, mode, transform, a, excl).into_iter().enumerate() {
            cols[i * w + j] = v;
        }
    }
    (0..oh).flat_map(|i| reference_1d(&cols[i * w..(i + 1) * w], ow, sw, mode, transform, a, excl)).collect()
}

/// An antialiased `Resize` of x `[1, 2, h, w]` with constant `scales` or
/// `sizes` (4 values) and extra attributes.
fn antialias_model(h: i64, w: i64, scales: Option<&[f32]>, sizes: Option<&[i64]>, mut attrs: Vec<onnx_protobuf::AttributeProto>) -> Model {
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &[Some(1), Some(2), Some(h), Some(w)]);
    attrs.push(attr_int("antialias", 1));
    let y = match (scales, sizes) {
        (Some(s), None) => {
            let s = b.init_f32("scales", &[4], s);
            b.node("Resize", &[&x, "", &s], attrs)
        }
        (None, Some(z)) => {
            let z = b.init_i64("sizes", &[4], z);
            b.node("Resize", &[&x, "", "", &z], attrs)
        }
        _ => unreachable!(),
    };
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    to_model(b)
}

#[test]
fn antialias_downsampling_is_a_matrix_product_equal_to_onnx_formula() {
    let (h, w) = (7usize, 9usize);
    let x: Vec<f32> = (0..2 * h * w).map(|i| ((i * 37 % 23) as f32 - 11.0) / 3.0).collect();
    let xv = Value::from_f32(vec![1, 2, h, w], x.clone());
    // (mode, transform, cubic a, exclude_outside, scales or sizes).
    let cases: [(&str, &str, f32, bool, Option<[f32; 2]>, Option<[i64; 2]>); 6] = [
        ("linear", "half_pixel", -0.75, false, Some([0.6, 0.4]), None),
        ("cubic", "half_pixel", -0.75, false, Some([0.6, 0.5]), None),
        ("linear", "asymmetric", -0.75, false, None, Some([3, 4])),
        ("cubic", "align_corners", -0.5, true, None, Some([4, 3])),
        // Downsampling H, upsampling W: both through matrices.
        ("cubic", "half_pixel", -0.75, true, Some([0.5, 1.5]), None),
        ("linear", "half_pixel", -0.75, false, Some([1.0, 0.3]), None),
    ];
    for (mode, transform, a, excl, scales, sizes) in cases {
        let attrs = vec![
            attr_str("mode", mode),
            attr_str("coordinate_transformation_mode", transform),
            attr_float("cubic_coeff_a", a),
            attr_int("exclude_outside", i64::from(excl)),
        ];
        let m = match (scales, sizes) {
            (Some([sh, sw]), _) => antialias_model(h as i64, w as i64, Some(&[1.0, 1.0, sh, sw]), None, attrs),
            (_, Some([oh, ow])) => antialias_model(h as i64, w as i64, None, Some(&[1, 2, oh, ow]), attrs),
            _ => unreachable!(),
        };
        let o = ops(&m);
        assert!(o.contains(&"FULLY_CONNECTED") && !o.contains(&"GATHER"), "{mode} {transform}: {o:?}");
        let (out, sc) = match (scales, sizes) {
            (Some([sh, sw]), _) => {
                let (sh, sw) = (f64::from(sh), f64::from(sw));
                ([(sh * h as f64) as usize, (sw * w as f64) as usize], [sh, sw])
            }
            (_, Some([oh, ow])) => ([oh as usize, ow as usize], [oh as f64 / h as f64, ow as f64 / w as f64]),
            _ => unreachable!(),
        };
        let y = run(&m, vec![xv.clone()]);
        assert_eq!(y[0].shape, [1, 2, out[0], out[1]], "{mode} {transform}");
        let got = y[0].to_f32();
        let plane = out[0] * out[1];
        for c in 0..2 {
            let xc: Vec<f64> = x[c * h * w..(c + 1) * h * w].iter().map(|v| f64::from(*v)).collect();
            let want = reference_2d(&xc, [h, w], out, sc, mode, transform, f64::from(a), excl);
            for (k, (g, e)) in got[c * plane..(c + 1) * plane].iter().zip(&want).enumerate() {
                assert!((f64::from(*g) - e).abs() < 1e-5, "{mode} {transform} channel {c} element {k}: {g} vs {e}");
            }
        }
    }
}

#[test]
fn antialias_keep_aspect_ratio_and_axes() {
    // sizes [3, 3] on 6 × 9 with not_larger: scale min(3/6, 3/9) = 1/3,
    // output round(6/3) × round(9/3) = 2 × 3.
    let (h, w) = (6usize, 9usize);
    let x: Vec<f32> = (0..2 * h * w).map(|i| (i % 7) as f32).collect();
    let mut b = OnnxBuilder::new(18);
    let xi = b.input("x", FLOAT, &[Some(1), Some(2), Some(h as i64), Some(w as i64)]);
    let z = b.init_i64("sizes", &[2], &[3, 3]);
    let attrs = vec![attr_str("mode", "linear"), attr_int("antialias", 1), attr_ints("axes", &[2, 3]), attr_str("keep_aspect_ratio_policy", "not_larger")];
    let y = b.node("Resize", &[&xi, "", "", &z], attrs);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    let m = to_model(b);
    let y = run(&m, vec![Value::from_f32(vec![1, 2, h, w], x.clone())]);
    assert_eq!(y[0].shape, [1, 2, 2, 3]);
    let xc: Vec<f64> = x[..h * w].iter().map(|v| f64::from(*v)).collect();
    let want = reference_2d(&xc, [h, w], [2, 3], [1.0 / 3.0, 1.0 / 3.0], "linear", "half_pixel", -0.75, false);
    for (g, e) in y[0].to_f32()[..6].iter().zip(&want) {
        assert!((f64::from(*g) - e).abs() < 1e-5, "{g} vs {e}");
    }
}

#[test]
fn antialias_with_scales_or_sizes_given_at_run_time_computes_its_matrices() {
    let (h, w) = (5usize, 8usize);
    let x: Vec<f32> = (0..h * w).map(|i| ((i * 13 % 11) as f32 - 5.0) / 2.0).collect();
    let xv = Value::from_f32(vec![1, 1, h, w], x.clone());
    let xc: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
    for (mode, excl) in [("linear", false), ("cubic", false), ("cubic", true)] {
        let attrs = || vec![attr_str("mode", mode), attr_int("antialias", 1), attr_int("exclude_outside", i64::from(excl))];
        // Scales as an input: one file, two calls at two scales.
        let mut b = OnnxBuilder::new(18);
        let xi = b.input("x", FLOAT, &[Some(1), Some(1), Some(h as i64), Some(w as i64)]);
        let s = b.input("scales", FLOAT, &[Some(4)]);
        let y = b.node("Resize", &[&xi, "", &s], attrs());
        b.node_named("Identity", &[&y], &["y"], vec![]);
        b.output("y", FLOAT, &[None, None, None, None]);
        let m = to_model(b);
        assert!(ops(&m).contains(&"BATCH_MATMUL"), "{:?}", ops(&m));
        for [sh, sw] in [[0.6f32, 0.5], [0.4, 0.3]] {
            let y = run(&m, vec![xv.clone(), Value::from_f32(vec![4], vec![1.0, 1.0, sh, sw])]);
            let (sh, sw) = (f64::from(sh), f64::from(sw));
            let out = [(sh * h as f64) as usize, (sw * w as f64) as usize];
            assert_eq!(y[0].shape, [1, 1, out[0], out[1]]);
            let want = reference_2d(&xc, [h, w], out, [sh, sw], mode, "half_pixel", -0.75, excl);
            for (g, e) in y[0].to_f32().iter().zip(&want) {
                assert!((f64::from(*g) - e).abs() < 1e-5, "{mode} scales {sh}x{sw}: {g} vs {e}");
            }
        }
        // Sizes as an input.
        let mut b = OnnxBuilder::new(18);
        let xi = b.input("x", FLOAT, &[Some(1), Some(1), Some(h as i64), Some(w as i64)]);
        let z = b.input("sizes", INT64, &[Some(4)]);
        let y = b.node("Resize", &[&xi, "", "", &z], attrs());
        b.node_named("Identity", &[&y], &["y"], vec![]);
        b.output("y", FLOAT, &[None, None, None, None]);
        let m = to_model(b);
        let y = run(&m, vec![xv.clone(), Value::new(tflite_forge::DType::I64, vec![4], vec![1.0, 1.0, 3.0, 3.0])]);
        assert_eq!(y[0].shape, [1, 1, 3, 3]);
        let want = reference_2d(&xc, [h, w], [3, 3], [3.0 / h as f64, 3.0 / w as f64], mode, "half_pixel", -0.75, excl);
        for (g, e) in y[0].to_f32().iter().zip(&want) {
            assert!((f64::from(*g) - e).abs() < 1e-5, "{mode} sizes: {g} vs {e}");
        }
    }
}

#[test]
fn antialias_that_is_not_static_or_too_large_is_a_typed_error() {
    // A height known only at run time.
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), None, Some(4)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 0.5, 0.5]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "cubic"), attr_int("antialias", 1)]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
    // A matrix beyond the entry limit: 2^16 → 2^15 along W.
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(1 << 16)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 1.0, 0.5]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "linear"), attr_int("antialias", 1)]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
    // tf_crop_and_resize with antialias.
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(4), Some(4)]);
    let roi = b.init_f32("roi", &[8], &[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 0.5, 0.5]);
    let attrs = vec![attr_str("mode", "linear"), attr_int("antialias", 1), attr_str("coordinate_transformation_mode", "tf_crop_and_resize")];
    let y = b.node("Resize", &[&x, &roi, &scales], attrs);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    assert_eq!(reason(b), ReasonCode::UnsupportedAttribute);
}

#[test]
fn gathers_only_on_float32() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", INT64, &[Some(1), Some(1), Some(2), Some(2)]);
    let s = b.input("scales", FLOAT, &[Some(4)]);
    let y = b.node("Resize", &[&x, "", &s], vec![]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", INT64, &[None, None, None, None]);
    assert_eq!(reason(b), ReasonCode::UnsupportedDtype);
}

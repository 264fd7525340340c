//! Calibration methods: how a tensor's quantization range follows from the
//! values seen.
//!
//! - [`CalibrationMethod::MinMax`] covers every value seen: nothing is
//!   clipped, but one outlier widens the step for all other values.
//! - [`CalibrationMethod::Percentile`] clips the rarest values: the range
//!   runs from the `(100 − P)`th to the `P`th percentile, so that one
//!   outlier sample (or a few extreme values) no longer sets the step.
//! - [`CalibrationMethod::Mse`] picks the range that minimises the expected
//!   squared error of quantize-then-dequantize over the values seen:
//!   rounding error (`step² / 12` per value inside the range) against
//!   clipping error (`(x − bound)²` outside).
//!
//! Percentile and MSE work from a histogram per tensor with a fixed bin
//! layout: [`BINS`] bins over `[−2^k, 2^k)`, `k` the smallest integer
//! with every value inside. When a larger value arrives, `k` grows and the
//! bins merge pairwise; the bin edges of each layout are edges of the finer
//! one, so the result is the histogram binned directly at the final `k`,
//! whatever the order of the samples. Both methods are deterministic.

/// How calibration turns observed values into a quantization range.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum CalibrationMethod {
    /// The smallest and largest value seen (the default).
    #[default]
    MinMax,
    /// From the `(100 − P)`th to the `P`th percentile of the values seen
    /// (`P` in `(50, 100]`, e.g. 99.99), clipped to the min-max range.
    Percentile(f64),
    /// The range with the least expected squared quantization error.
    Mse,
}

impl CalibrationMethod {
    /// Parses `minmax`, `percentile` (99.99), `percentile:P` or `mse`.
    ///
    /// ```
    /// use tflite_forge::quantize::CalibrationMethod;
    /// assert_eq!(CalibrationMethod::parse("percentile:99.9"), Ok(CalibrationMethod::Percentile(99.9)));
    /// assert_eq!(CalibrationMethod::parse("mse"), Ok(CalibrationMethod::Mse));
    /// assert!(CalibrationMethod::parse("percentile:20").is_err());
    /// ```
    ///
    /// # Errors
    /// A message for an unknown method or a percentile outside `(50, 100]`.
    pub fn parse(s: &str) -> Result<CalibrationMethod, String> {
        match s.split_once(':') {
            None if s == "minmax" => Ok(CalibrationMethod::MinMax),
            None if s == "mse" => Ok(CalibrationMethod::Mse),
            None if s == "percentile" => Ok(CalibrationMethod::Percentile(DEFAULT_PERCENTILE)),
            Some(("percentile", p)) => {
                let p: f64 = p.parse().map_err(|e| format!("percentile {p:?}: {e}"))?;
                if p > 50.0 && p <= 100.0 { Ok(CalibrationMethod::Percentile(p)) } else { Err(format!("percentile {p} is not in (50, 100]")) }
            }
            _ => Err(format!("unknown calibration method {s:?}; expected minmax, percentile[:P] or mse")),
        }
    }

    /// Whether the method needs histograms (all but min-max).
    pub(super) fn needs_histogram(self) -> bool {
        !matches!(self, CalibrationMethod::MinMax)
    }
}

/// The percentile of `percentile` without a number: 99.99.
pub const DEFAULT_PERCENTILE: f64 = 99.99;

/// Bins per histogram.
pub const BINS: usize = 4096;
const HALF: usize = BINS / 2;

/// Counts of values in bins of a power-of-two symmetric range.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Histogram {
    /// The range is `[−2^k, 2^k)`; `None` until a non-zero value came.
    k: Option<i32>,
    counts: Vec<u64>,
}

fn pow2(k: i32) -> f64 {
    2f64.powi(k)
}

impl Histogram {
    pub(super) fn new() -> Histogram {
        Histogram { k: None, counts: vec![0; BINS] }
    }

    /// Bin of `v` at scale `k` (positive bins from the centre up, negative
    /// ones mirrored: exact, as the scaling is by a power of two).
    fn bin(v: f64, k: i32) -> usize {
        let j = ((v.abs() / pow2(k)) * HALF as f64).floor() as usize;
        let j = j.min(HALF - 1);
        if v >= 0.0 { HALF + j } else { HALF - 1 - j }
    }

    fn grow(&mut self, to: i32) {
        let Some(k) = self.k else {
            self.k = Some(to);
            return;
        };
        // After log2(BINS) doublings every count is in the two centre bins
        // and further doublings change nothing.
        for _ in 0..(to - k).min(BINS.trailing_zeros() as i32 + 1) {
            let mut next = vec![0u64; BINS];
            for (i, c) in self.counts.iter().enumerate() {
                let j = if i >= HALF { HALF + (i - HALF) / 2 } else { HALF - 1 - (HALF - 1 - i) / 2 };
                next[j] += c;
            }
            self.counts = next;
        }
        self.k = Some(to);
    }

    /// Adds `other`'s counts. Exact: a value's bin at a larger scale is its
    /// bin at a smaller one with pairs of bins merged, so merging gives the
    /// histogram of all the values whatever the order they came in.
    pub(super) fn merge(&mut self, other: &Histogram) {
        let target = match (self.k, other.k) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let mut o = other.clone();
        if let Some(t) = target {
            if self.k.is_none_or(|k| k < t) {
                self.grow(t);
            }
            if o.k.is_none_or(|k| k < t) {
                o.grow(t);
            }
        }
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
    }

    pub(super) fn add(&mut self, values: &[f64]) {
        for &v in values {
            let v = f64::from(v as f32);
            if !v.is_finite() {
                continue;
            }
            if v != 0.0 {
                // The smallest k with |v| < 2^k.
                let mut need = v.abs().log2().floor() as i32 + 1;
                while pow2(need) <= v.abs() {
                    need += 1;
                }
                while need > i32::MIN + 1 && pow2(need - 1) > v.abs() {
                    need -= 1;
                }
                if self.k.is_none_or(|k| need > k) {
                    self.grow(need);
                }
            }
            let k = self.k.unwrap_or(0);
            self.counts[Histogram::bin(v, k)] += 1;
        }
    }

    fn width(&self) -> f64 {
        pow2(self.k.unwrap_or(0)) / HALF as f64
    }

    /// Lower and upper edge of bin `i`.
    fn edges(&self, i: usize) -> (f64, f64) {
        let w = self.width();
        if i >= HALF {
            ((i - HALF) as f64 * w, (i - HALF + 1) as f64 * w)
        } else {
            (-((HALF - i) as f64) * w, -((HALF - 1 - i) as f64) * w)
        }
    }

    /// The range for `method` given the exact `(min, max)` seen, for
    /// `levels` quantization steps (255 for int8).
    pub(super) fn range(&self, method: CalibrationMethod, min: f32, max: f32, levels: f64) -> (f32, f32) {
        let total: u64 = self.counts.iter().sum();
        if total == 0 || self.k.is_none() {
            return (min, max);
        }
        let (lo, hi) = match method {
            CalibrationMethod::MinMax => return (min, max),
            CalibrationMethod::Percentile(p) => {
                let tail = ((100.0 - p) / 100.0 * total as f64).floor() as u64;
                let mut acc = 0;
                let mut hi = f64::from(max);
                for i in (0..BINS).rev() {
                    acc += self.counts[i];
                    if acc > tail {
                        hi = self.edges(i).1;
                        break;
                    }
                }
                acc = 0;
                let mut lo = f64::from(min);
                for i in 0..BINS {
                    acc += self.counts[i];
                    if acc > tail {
                        lo = self.edges(i).0;
                        break;
                    }
                }
                (lo, hi)
            }
            CalibrationMethod::Mse => self.mse_range(f64::from(min), f64::from(max), levels),
        };
        ((lo as f32).max(min), (hi as f32).min(max))
    }

    /// Coordinate descent over the bounds: the upper bound scaled by
    /// 1.00, 0.99, ... 0.01 with the lower one fixed, then the lower one,
    /// twice; each time the least error wins (the widest on a tie). The
    /// range holds zero, as the parameters will.
    fn mse_range(&self, min: f64, max: f64, levels: f64) -> (f64, f64) {
        let (min, max) = (min.min(0.0), max.max(0.0));
        let centres: Vec<(f64, f64)> = (0..BINS)
            .filter(|&i| self.counts[i] > 0)
            .map(|i| {
                let (a, b) = self.edges(i);
                (((a + b) / 2.0).clamp(min, max), self.counts[i] as f64)
            })
            .collect();
        let error = |lo: f64, hi: f64| -> f64 {
            let step = (hi - lo) / levels;
            centres
                .iter()
                .map(|&(c, n)| {
                    n * if c < lo {
                        (lo - c).powi(2)
                    } else if c > hi {
                        (c - hi).powi(2)
                    } else {
                        step * step / 12.0
                    }
                })
                .sum()
        };
        let best = |f: &dyn Fn(f64) -> f64| -> f64 {
            let mut best = (f64::INFINITY, 1.0);
            for s in (1..=100).rev() {
                let a = f64::from(s) / 100.0;
                let e = f(a);
                if e < best.0 {
                    best = (e, a);
                }
            }
            best.1
        };
        let (mut lo, mut hi) = (min, max);
        for _ in 0..2 {
            hi = max * best(&|a| error(lo, max * a));
            lo = min * best(&|a| error(min * a, hi));
        }
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_order_independent() {
        let values: Vec<f64> = (0..500).map(|i| ((i * 37 % 101) as f64 - 50.0) * 0.013 * if i % 7 == 0 { 9.0 } else { 1.0 }).collect();
        let mut a = Histogram::new();
        a.add(&values);
        let mut b = Histogram::new();
        for chunk in values.chunks(13).rev() {
            let mut c = chunk.to_vec();
            c.reverse();
            b.add(&c);
        }
        assert_eq!(a, b);
        // Starting small and growing merges exactly into the direct layout.
        let mut c = Histogram::new();
        c.add(&[1e-6, -3e-5]);
        c.add(&[100.0]);
        let mut d = Histogram::new();
        d.add(&[100.0, -3e-5, 1e-6]);
        assert_eq!(c, d);
        assert_eq!(d.counts.iter().sum::<u64>(), 3);
    }

    #[test]
    fn merged_histograms_equal_one_histogram_of_all_values() {
        let values: Vec<f64> = (0..900).map(|i| ((i * 53 % 211) as f64 - 105.0) * 0.007 * if i % 11 == 0 { 40.0 } else { 1.0 }).collect();
        let mut whole = Histogram::new();
        whole.add(&values);
        for parts in [2, 3, 7, 50] {
            let mut merged = Histogram::new();
            for chunk in values.chunks(values.len().div_ceil(parts)).rev() {
                let mut h = Histogram::new();
                h.add(chunk);
                merged.merge(&h);
            }
            assert_eq!(merged, whole, "{parts} parts");
        }
        // Zeros only (no scale yet) merge into anything.
        let mut z = Histogram::new();
        z.add(&[0.0, 0.0]);
        let mut w = whole.clone();
        w.merge(&z);
        z.merge(&whole);
        assert_eq!(w, z);
        assert_eq!(w.counts.iter().sum::<u64>(), 902);
    }

    #[test]
    fn percentile_ignores_a_rare_outlier_and_mse_clips_a_long_tail() {
        let mut values: Vec<f64> = (0..20000).map(|i| (i % 200) as f64 / 100.0 - 1.0).collect();
        values.push(500.0);
        let mut h = Histogram::new();
        h.add(&values);
        let (lo, hi) = h.range(CalibrationMethod::Percentile(99.99), -1.0, 500.0, 255.0);
        assert!(lo <= -0.95 && (0.99..1.1).contains(&hi), "{lo} {hi}");
        assert_eq!(h.range(CalibrationMethod::MinMax, -1.0, 500.0, 255.0), (-1.0, 500.0));
        // One far outlier among few values: clipping it costs more than
        // the coarser step, and MSE keeps it.
        let (_, mse_hi) = h.range(CalibrationMethod::Mse, -1.0, 500.0, 255.0);
        assert!(mse_hi > 400.0, "{mse_hi}");
        // Among a million values, a finer step for all beats the clipping
        // error of one value at 3: MSE clips it, and keeps the lower bound.
        let mut big = Histogram::new();
        for _ in 0..50 {
            big.add(&values[..20000]);
        }
        big.add(&[3.0]);
        let (lo, hi) = big.range(CalibrationMethod::Mse, -1.0, 3.0, 255.0);
        assert!(lo <= -0.95 && hi < 2.0, "{lo} {hi}");
        // Without outliers MSE keeps (nearly) the whole range.
        let mut u = Histogram::new();
        u.add(&values[..20000]);
        let (lo, hi) = u.range(CalibrationMethod::Mse, -1.0, 0.99, 255.0);
        assert!(lo <= -0.95 && hi >= 0.94, "{lo} {hi}");
    }

    #[test]
    fn parse_methods() {
        assert_eq!(CalibrationMethod::parse("minmax"), Ok(CalibrationMethod::MinMax));
        assert_eq!(CalibrationMethod::parse("percentile"), Ok(CalibrationMethod::Percentile(99.99)));
        assert!(CalibrationMethod::parse("kl").is_err());
    }
}

//! Running samples on several threads with a result independent of the
//! thread count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::QuantizeError;

/// The number of threads for `threads` (0: one per core, as
/// [`std::thread::available_parallelism`] reports, 1 when unknown).
pub(super) fn resolve(threads: usize) -> usize {
    if threads > 0 { threads } else { std::thread::available_parallelism().map_or(1, |n| n.get()) }
}

/// `f(0), f(1), …, f(n - 1)` on up to `threads` threads (see [`resolve`]),
/// returned in index order. On errors, the error of the lowest failing
/// index is returned (every lower index has run), so the outcome does not
/// depend on the thread count or on scheduling.
pub(super) fn map<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> Result<T, QuantizeError> + Sync) -> Result<Vec<T>, QuantizeError> {
    let workers = resolve(threads).min(n);
    if workers <= 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    // The lowest failing index so far: later indices need not run.
    let failed = AtomicUsize::new(usize::MAX);
    let slots: Mutex<Vec<Option<Result<T, QuantizeError>>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || i > failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = f(i);
                    if r.is_err() {
                        failed.fetch_min(i, Ordering::Relaxed);
                    }
                    // A poisoned lock means another worker panicked; the
                    // scope re-raises that panic.
                    if let Ok(mut slots) = slots.lock()
                        && let Some(slot) = slots.get_mut(i)
                    {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let slots = slots.into_inner().map_err(|_| QuantizeError::Model("a worker thread failed".into()))?;
    let mut out = Vec::with_capacity(n);
    for slot in slots {
        match slot {
            Some(r) => out.push(r?),
            // Skipped after a lower index failed, which the loop returned.
            None => return Err(QuantizeError::Model("a sample was not evaluated".into())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_index_order_whatever_the_threads() {
        for threads in [1, 2, 3, 8] {
            let got = map(20, threads, |i| Ok(i * i)).unwrap();
            assert_eq!(got, (0..20).map(|i| i * i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_lowest_failing_index_wins() {
        for threads in [1, 2, 4] {
            let err = map(30, threads, |i| if i % 7 == 5 { Err(QuantizeError::Calibration(format!("{i}"))) } else { Ok(i) }).unwrap_err();
            assert_eq!(err, QuantizeError::Calibration("5".into()), "{threads} threads");
        }
    }
}

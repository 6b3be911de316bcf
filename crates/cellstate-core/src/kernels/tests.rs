//! Every available set against the scalar reference, and the selection API.

use super::*;

#[test]
fn every_available_set_matches_scalar() {
    for name in available() {
        let set = by_name(name).expect("available names resolve");
        self_test(set).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The sweep again with a pool of two threads: every split product (the self-test forces a split of
/// each case) runs its tiles on two threads and must still equal the one-thread result bit for bit.
/// `set_threads` is process-wide, but results do not depend on it, so concurrent tests are unaffected.
#[test]
fn every_available_set_matches_scalar_on_two_threads() {
    let before = threads();
    set_threads(2).unwrap();
    let result = available()
        .into_iter()
        .try_for_each(|name| self_test(by_name(name).unwrap()));
    set_threads(before).unwrap();
    result.unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn thread_count_is_validated() {
    assert!(set_threads(0).unwrap_err().contains("from 1 to"));
    assert!(set_threads(u32::MAX as usize)
        .unwrap_err()
        .contains("from 1 to"));
    assert!(threads() >= 1);
}

/// The scalar reference passes its own sweep: guards the sweep's bookkeeping (bounds, tails, NaN).
#[test]
fn scalar_passes_self_test() {
    self_test(&Scalar).unwrap();
}

/// A CPU with the feature must expose the set, so a build that lost it fails here instead of
/// quietly testing (and shipping) only scalar.
#[cfg(target_arch = "x86_64")]
#[test]
fn detected_features_expose_their_sets() {
    let names = available();
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        assert!(names.contains(&"avx2_fma"), "{names:?}");
    }
    if is_x86_feature_detected!("avx512f") {
        assert!(names.contains(&"avx512"), "{names:?}");
    }
}

#[test]
fn selection_by_name() {
    assert_eq!(available()[0], "scalar");
    assert!(by_name("no-such-set").is_none());
    assert!(select("no-such-set").unwrap_err().contains("scalar"));
    let best = *available().last().unwrap();
    if std::env::var_os("CELLSTATE_KERNELS").is_none() {
        assert_eq!(active().name(), best);
    }
    // Tests share the process: restore the previous choice before asserting.
    let before = active().name();
    select("scalar").unwrap();
    let forced = active().name();
    select(before).unwrap();
    assert_eq!(forced, "scalar");
    assert_eq!(by_name(best).unwrap().name(), best);
}

/// Passes posted to held workers (`hold`): every task of a split runs exactly once, a team's members
/// run at once on distinct threads (they meet at a barrier each round), nested holds and single
/// tasks run inline, and the workers are released afterwards (the pool serves rayon's queue again).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn held_workers_run_every_pass_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let before = threads();
    set_threads(2).unwrap();
    let counts: Vec<AtomicUsize> = (0..7).map(|_| AtomicUsize::new(0)).collect();
    let member_threads = std::sync::Mutex::new(Vec::new());
    let barrier = Barrier::new(2);
    hold(usize::MAX, || {
        for round in 0..200 {
            for_each(7, &|i| {
                counts[i].fetch_add(1, Ordering::Relaxed);
            });
            if round % 50 == 0 {
                team(2, &|me| {
                    for _ in 0..3 {
                        barrier.wait();
                    }
                    member_threads
                        .lock()
                        .unwrap()
                        .push((me, std::thread::current().id()));
                });
            }
            // A nested hold is the same hold.
            hold(usize::MAX, || for_each(1, &|i| assert_eq!(i, 0)));
        }
    });
    // Outside the hold, splits go through rayon again.
    for_each(7, &|i| {
        counts[i].fetch_add(1, Ordering::Relaxed);
    });
    set_threads(before).unwrap();
    for (i, c) in counts.iter().enumerate() {
        assert_eq!(c.load(Ordering::Relaxed), 201, "task {i}");
    }
    let members = member_threads.into_inner().unwrap();
    assert_eq!(members.len(), 8);
    for pair in members.chunks(2) {
        let mut ids: Vec<_> = pair.iter().map(|m| m.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, [0, 1]);
        assert_ne!(pair[0].1, pair[1].1, "team members on one thread");
    }
}

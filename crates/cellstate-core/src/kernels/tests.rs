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

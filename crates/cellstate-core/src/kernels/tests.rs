//! Every available set against the scalar reference, and the selection API.

use super::*;

#[test]
fn every_available_set_matches_scalar() {
    for name in available() {
        let set = by_name(name).expect("available names resolve");
        self_test(set).unwrap_or_else(|e| panic!("{e}"));
    }
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

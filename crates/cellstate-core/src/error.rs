//! Errors that a caller's bad input can cause. Bindings map each kind to a typed JavaScript error.

use std::fmt;

/// What went wrong, in a form the bindings can turn into a typed error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A tensor or argument has the wrong shape or length; the message names the expected shape.
    Shape(String),
    /// A value is out of its allowed range (NaN input, a length past T, a bad config field).
    Value(String),
    /// A call came in the wrong order (backward before forward).
    State(String),
}

/// Result with the core's error.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error's kind as a stable word: `shape`, `value` or `state`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Shape(_) => "shape",
            Error::Value(_) => "value",
            Error::State(_) => "state",
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Error::Shape(m) | Error::Value(m) | Error::State(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

/// `Error::Shape` unless a buffer of `got` elements has the `want` elements of `shape`.
pub(crate) fn check_len(what: &str, got: usize, want: usize, shape: &str) -> Result<()> {
    if got != want {
        return Err(Error::Shape(format!(
            "{what} has {got} elements; expected {want} for shape {shape}"
        )));
    }
    Ok(())
}

/// Elements from which [`check_finite`] splits its scan over the threads (1 MiB of f32).
const PARALLEL_CHECK_MIN: usize = 1 << 18;

/// `Error::Value` naming the first non-finite element of `data` and its flat index.
pub(crate) fn check_finite<T: crate::float::Float>(what: &str, data: &[T]) -> Result<()> {
    // A branch-free fold per chunk (the compiler vectorises it; an early-exit scan it does not: 17% of an
    // inference forward at the seed tier in perf), then the first bad index inside the failing chunk.
    const CHUNK: usize = 256;
    let finite = |part: &[T]| {
        part.chunks(CHUNK)
            .all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite()))
    };
    // A large input is scanned on every thread first: the seed tier's dense x (7.7 MB, read from L3)
    // was 10% of a one-thread inference forward in perf, and one thread's share of it at two.
    if data.len() >= PARALLEL_CHECK_MIN {
        let ok = std::sync::atomic::AtomicBool::new(true);
        crate::kernels::for_ranges(data.len(), data.len(), &|r| {
            if !finite(&data[r]) {
                ok.store(false, std::sync::atomic::Ordering::Relaxed);
            }
        });
        if ok.into_inner() {
            return Ok(());
        }
    }
    let bad = data.chunks(CHUNK).position(|c| !finite(c));
    if let Some(i) = bad.and_then(|c| {
        let start = c * CHUNK;
        data[start..]
            .iter()
            .position(|v| !v.is_finite())
            .map(|i| start + i)
    }) {
        return Err(Error::Value(format!(
            "{what} holds a non-finite value ({}) at flat index {i}",
            data[i]
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Above the split size the scan runs on two threads: a bad value in either part (or at the
    /// boundary) must still be reported with its first flat index, and a clean input pass.
    #[test]
    fn check_finite_reports_the_first_bad_index_when_split() {
        let before = crate::kernels::threads();
        crate::kernels::set_threads(2).unwrap();
        let n = PARALLEL_CHECK_MIN * 2 + 3;
        let mut data = vec![1.0f32; n];
        let clean = check_finite("x", &data);
        let mut found = Vec::new();
        for (at, bad) in [
            (n - 1, f32::NAN),
            (n / 2, f32::INFINITY),
            (7, f32::NEG_INFINITY),
        ] {
            data[at] = bad;
            found.push(check_finite("x", &data).unwrap_err().to_string());
        }
        crate::kernels::set_threads(before).unwrap();
        assert!(clean.is_ok());
        assert!(
            found[0].contains(&format!("flat index {}", n - 1)),
            "{}",
            found[0]
        );
        assert!(
            found[1].contains(&format!("flat index {}", n / 2)),
            "{}",
            found[1]
        );
        assert!(found[2].contains("flat index 7"), "{}", found[2]);
    }
}

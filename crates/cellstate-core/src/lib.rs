//! cellstate-core: the compute of cellstate, in plain Rust with no binding code.
//!
//! Shape legend used throughout: B batch, T steps, F input features, H hidden units, G = 4H packed gates
//! (PyTorch order i, f, g, o), D directions (1 or 2), L layers.
#![warn(missing_docs)]
// The threads build (wasm32 +atomics, built with -Zbuild-std, so a nightly-gated std already) parks idle
// workers with memory.atomic.wait32, whose intrinsics are still unstable.
#![cfg_attr(
    all(target_arch = "wasm32", target_feature = "atomics"),
    feature(stdarch_wasm_atomic_wait)
)]

pub mod dropout;
pub mod error;
pub mod float;
#[cfg(test)]
mod gradcheck;
pub mod kernels;
pub mod layout;
pub mod limits;

pub use error::{Error, Result};
pub mod lstm;
pub mod model;
pub mod optim;
pub mod rng;

pub use lstm::{BackwardInput, ForwardInput, Lstm, LstmConfig, LstmLayer, ParamEntry};
pub use model::{Batch, BatchStats, Model, ModelConfig};
pub use optim::{Optimizer, OptimizerConfig};

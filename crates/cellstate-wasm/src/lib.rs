//! wasm-bindgen exports of cellstate-core: argument conversion and error mapping only.
//! The surface matches `cellstate-node` name for name (checked by test/surface.test.ts).

use cellstate_core::{kernels, BackwardInput, Error, ForwardInput, Lstm, LstmConfig};
use wasm_bindgen::prelude::*;

/// Errors cross as `Error("[kind] message")`; the TypeScript layer maps `kind` to a typed error class.
fn js_err(e: Error) -> JsValue {
    js_sys::Error::new(&format!("[{}] {}", e.kind(), e.message())).into()
}

/// An LSTM living in wasm memory; JavaScript holds it as a handle.
#[wasm_bindgen(js_name = LstmHandle)]
pub struct LstmHandle {
    inner: Lstm,
}

#[wasm_bindgen(js_class = LstmHandle)]
impl LstmHandle {
    /// A new LSTM initialised from `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        input_size: u32,
        hidden_size: u32,
        num_layers: u32,
        bidirectional: bool,
        seed: f64,
    ) -> Result<LstmHandle, JsValue> {
        let config = LstmConfig {
            input_size: input_size as usize,
            hidden_size: hidden_size as usize,
            num_layers: num_layers as usize,
            bidirectional,
        };
        Lstm::new(config, seed as u64)
            .map(|inner| LstmHandle { inner })
            .map_err(js_err)
    }

    /// The parameter table as JSON.
    #[wasm_bindgen(js_name = paramTable)]
    pub fn param_table(&self) -> String {
        self.inner.param_table_json()
    }

    /// A copy of the flat parameters.
    pub fn params(&self) -> Vec<f32> {
        self.inner.params().to_vec()
    }

    /// Replaces the flat parameters.
    #[wasm_bindgen(js_name = setParams)]
    pub fn set_params(&mut self, data: &[f32]) -> Result<(), JsValue> {
        self.inner.set_params(data).map_err(js_err)
    }

    /// A copy of the flat gradients.
    pub fn grads(&self) -> Vec<f32> {
        self.inner.grads().to_vec()
    }

    /// Zeroes the gradients.
    #[wasm_bindgen(js_name = zeroGrad)]
    pub fn zero_grad(&mut self) {
        self.inner.zero_grad();
    }

    /// Runs the forward pass.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &mut self,
        x: &[f32],
        batch: u32,
        steps: u32,
        batch_first: bool,
        h0: Option<Vec<f32>>,
        c0: Option<Vec<f32>>,
        lengths: Option<Vec<u32>>,
    ) -> Result<(), JsValue> {
        self.inner
            .sequence_forward(&ForwardInput {
                x,
                batch: batch as usize,
                steps: steps as usize,
                batch_first,
                h0: h0.as_deref(),
                c0: c0.as_deref(),
                lengths: lengths.as_deref(),
                tokens: None,
            })
            .map_err(js_err)
    }

    /// A copy of the last output.
    pub fn output(&self) -> Result<Vec<f32>, JsValue> {
        let mut out = vec![0.0; self.inner.output_len()];
        self.inner.read_output(&mut out).map_err(js_err)?;
        Ok(out)
    }

    /// A copy of h_n.
    #[wasm_bindgen(js_name = hN)]
    pub fn h_n(&self) -> Vec<f32> {
        self.inner.h_n().to_vec()
    }

    /// A copy of c_n.
    #[wasm_bindgen(js_name = cN)]
    pub fn c_n(&self) -> Vec<f32> {
        self.inner.c_n().to_vec()
    }

    /// Whether a forward pass is cached.
    #[wasm_bindgen(js_name = hasForward)]
    pub fn has_forward(&self) -> bool {
        self.inner.has_forward()
    }

    /// Runs the backward pass from upstream gradients (absent ones are zero).
    pub fn backward(
        &mut self,
        d_output: Option<Vec<f32>>,
        d_h_n: Option<Vec<f32>>,
        d_c_n: Option<Vec<f32>>,
    ) -> Result<(), JsValue> {
        self.inner
            .sequence_backward(&BackwardInput {
                d_output: d_output.as_deref(),
                d_h_n: d_h_n.as_deref(),
                d_c_n: d_c_n.as_deref(),
            })
            .map_err(js_err)
    }

    /// A copy of dL/dx.
    #[wasm_bindgen(js_name = dX)]
    pub fn d_x(&self) -> Result<Vec<f32>, JsValue> {
        let (b, t) = self.inner.last_shape();
        let mut out = vec![0.0; b * t * self.inner.config().input_size];
        self.inner.read_d_x(&mut out).map_err(js_err)?;
        Ok(out)
    }

    /// A copy of dL/dh0.
    #[wasm_bindgen(js_name = dH0)]
    pub fn d_h0(&self) -> Vec<f32> {
        self.inner.d_h0().to_vec()
    }

    /// A copy of dL/dc0.
    #[wasm_bindgen(js_name = dC0)]
    pub fn d_c0(&self) -> Vec<f32> {
        self.inner.d_c0().to_vec()
    }
}

/// Name of the active kernel set.
#[wasm_bindgen(js_name = kernelName)]
pub fn kernel_name() -> String {
    kernels::active().name().to_string()
}

// onnxruntime-web (static/ort/) and the exported models, loaded once per browser tab and shared by every
// in-page component (pages/components/live_digit.js, drawing_pad.js): the first to ask loads, the rest wait.
const shared = (globalThis.__multigenModels ??= { runtime: null, sessions: new Map() });

// The runtime, from the served addresses ``runtime`` (its module) and ``wasm`` (its WebAssembly file).
export function runtime({ runtime: address, wasm }) {
  shared.runtime ??= import(new URL(address, window.location.href).href).then((ort) => {
    ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which the app does not ask for
    ort.env.wasm.wasmPaths = { wasm: new URL(wasm, window.location.href).href };
    return ort;
  });
  return shared.runtime;
}

// The inference session of the exported model served at ``url``.
export function session(ort, url) {
  if (!shared.sessions.has(url)) {
    shared.sessions.set(url, ort.InferenceSession.create(new URL(url, window.location.href).href,
      { executionProviders: ['wasm'] }));
  }
  return shared.sessions.get(url);
}

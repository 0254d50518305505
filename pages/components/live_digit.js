// A picture of digits decoded in the page from what the person moves (see pages/ui/live_digit.py):
// - sliders: the GAN page's digit (its direction sliders), the Write page's strip (slant, thickness,
//   width), redrawn while a slider is dragged;
// - the pointer over the Latent explorer's map: the digit decoded where the pointer is, as it moves;
// - a scrubber along the path between two picked points (and a play button that walks it smoothly).
//
// The decoder or generator runs here, exported to ONNX (multigen.export) and run by onnxruntime-web's
// WebAssembly build (static/ort/, served by Streamlit's static file serving). It computes what the server
// computes: z = start + sum(value_i * direction_i) (the GAN page's values first held together within its reach),
// then the picked code moved into place, then the model's
// pixels for each label, rounded to 0-255 and set side by side. The server still hears a slider on
// release; its rerun draws the same picture.

// The runtime and the models' sessions, shared by the components of the tab (static/js/onnx_models.mjs).
const loader = (data) => import(new URL(data.loader, window.location.href).href);
const runtime = (data) => loader(data).then((models) => models.runtime(data));
const session = (data, ort, url) => loader(data).then((models) => models.session(ort, url));

// The slider values applied: with a ``reach`` (the GAN page's), all scaled by one factor so that the sum of their
// sizes stays within it (multigen.explore.noise.held_together); as set without one.
export function heldTogether(data, values) {
  if (!data.reach) return values;
  const total = values.reduce((sum, value) => sum + Math.abs(value), 0);
  return total <= data.reach ? values : values.map((value) => Math.fround(value * (data.reach / total)));
}

// The noise vector the sliders at ``values`` give, with the picked code moved into place
// (multigen.explore.noise.held_together where the page holds them, apply_sliders, then with_code).
export function noiseVector(data, values) {
  const z = Float32Array.from(data.start);
  heldTogether(data, values).forEach((value, i) => {
    const direction = data.directions[i];
    if (value && direction) for (let j = 0; j < z.length; j++) z[j] += value * direction[j];
  });
  if (data.code !== null && data.categories > 0) {
    let top = 0;
    for (let j = 1; j < data.categories; j++) if (z[j] > z[top]) top = j;
    [z[top], z[data.code]] = [z[data.code], z[top]];
  }
  return z;
}

// The picture: one digit per label (or one digit for a model without labels) side by side, (28, 28 n)
// row-major, as multigen.explore.handwriting.write_number sets them.
async function decode(state, values) {
  const { ort, model, data } = state;
  const z = noiseVector(data, values);
  const n = data.labels ? data.labels.length : 1;
  const batch = new Float32Array(n * z.length);
  for (let i = 0; i < n; i++) batch.set(z, i * z.length);
  const feeds = { z: new ort.Tensor('float32', batch, [n, z.length]) };
  if (data.labels) feeds.labels = new ort.Tensor('int64', BigInt64Array.from(data.labels.map(BigInt)), [n]);
  const { pixels } = await model.run(feeds);
  const gray = new Uint8ClampedArray(28 * 28 * n);
  for (let i = 0; i < n; i++) {
    for (let row = 0; row < 28; row++) {
      for (let column = 0; column < 28; column++) {
        gray[row * 28 * n + i * 28 + column] = Math.round(pixels.data[i * 784 + row * 28 + column] * 255);
      }
    }
  }
  return gray;
}

function paint(state, gray) {
  const context = state.canvas.getContext('2d');
  state.canvas.width = gray.length / 28;
  const frame = context.createImageData(gray.length / 28, 28);
  for (let i = 0; i < gray.length; i++) {
    frame.data.set([gray[i], gray[i], gray[i], 255], i * 4);
  }
  context.putImageData(frame, 0, 0);
  const picture = state.picture();
  if (picture) picture.src = state.canvas.toDataURL('image/png');
  state.root.dataset.frames = String(Number(state.root.dataset.frames || 0) + 1);
}

function sliderValues(data) {
  // The picture's sliders (by their labels) as the page shows them now, also mid-drag (the server hears
  // them on release). Streamlit's slider is an <input type=range> whose value follows the pointer.
  const values = data.values.slice();
  for (const slider of document.querySelectorAll('[data-testid=stSlider]')) {
    const label = (slider.querySelector('[data-testid=stWidgetLabel]')?.textContent ?? '').trim();
    const index = data.sliders.indexOf(label);
    const thumb = slider.querySelector('[role=slider]');
    const value = thumb ? Number(thumb.value ?? thumb.getAttribute('aria-valuetext')) : NaN;
    if (index >= 0 && Number.isFinite(value)) values[index] = value;
  }
  return values;
}

// The latent vector at map position (x, y): multigen.explore.projection.Projection.inverse.
export function inverse(data, x, y) {
  if (data.method === 'raw') return Float32Array.from([x, y]);
  if (data.method === 'pca') {
    const [first, second] = data.components;
    return Float32Array.from(data.mean, (mean, j) => x * first[j] + y * second[j] + mean);
  }
  // t-SNE has no inverse map: the inverse-distance-weighted mean of the latents of the nearest dots,
  // exactly a dot's latent on the dot itself.
  const points = data.points, k = Math.min(8, points.length);
  const nearest = points.map(([px, py], row) => [Math.hypot(px - x, py - y), row]).sort((a, b) => a[0] - b[0]).slice(0, k);
  const tolerance = 1e-9 * (data.spread || 1);
  if (nearest[0][0] <= tolerance) return Float32Array.from(data.latents[nearest[0][1]]);
  const out = new Float64Array(data.latents[0].length);
  let total = 0;
  for (const [distance, row] of nearest) {
    const weight = 1 / Math.max(distance, tolerance);
    total += weight;
    data.latents[row].forEach((value, j) => { out[j] += weight * value; });
  }
  return Float32Array.from(out, (value) => value / total);
}

function nearestLabel(data, x, y) {
  let best = 0, bestDistance = Infinity;
  data.points.forEach(([px, py], row) => {
    const distance = (px - x) ** 2 + (py - y) ** 2;
    if (distance < bestDistance) { bestDistance = distance; best = row; }
  });
  return data.labels[best];
}

// The map's data coordinates under a pointer event, or null outside its plotting area.
function mapPosition(chart, event) {
  const layout = chart._fullLayout;
  if (!layout || !layout.xaxis || !layout.yaxis) return null;
  const box = chart.getBoundingClientRect();
  const px = event.clientX - box.left - layout.xaxis._offset, py = event.clientY - box.top - layout.yaxis._offset;
  if (px < 0 || py < 0 || px > layout.xaxis._length || py > layout.yaxis._length) return null;
  return [layout.xaxis.p2l(px), layout.yaxis.p2l(py)];
}

async function decodeAt(state, x, y) {
  const data = state.data;
  const label = data.label !== null ? data.label : (data.labels ? nearestLabel(data, x, y) : null);
  const view = { ...data, start: inverse(data, x, y), directions: [], code: null, labels: label === null ? null : [label] };
  return decode({ ...state, data: view }, []);
}

// Loads the runtime and the model of ``state.data`` once; ``root.dataset.ready`` says when (or that it failed).
function startLoading(root, state) {
  if (state.loading) return;
  const data = state.data;
  state.loading = runtime(data)
    .then(async (ort) => { state.ort = ort; state.model = await session(data, ort, state.data.model); root.dataset.ready = 'true'; })
    .catch((error) => {
      root.dataset.ready = 'false';
      root.textContent = `The in-page model could not load (${error}): ${state.data.fallback}`;
    });
}

function followPointer(root, state) {
  const chart = document.querySelector(`.st-key-${state.data.chart} .js-plotly-plot`);
  if (!chart || chart.__multigenHover === state) return;
  chart.__multigenHover = state;
  startLoading(root, state); // the map is drawn: now the model (once)
  let scheduled = null;
  chart.addEventListener('mousemove', (event) => {
    const position = mapPosition(chart, event);
    if (!position || !state.model) return;
    if (scheduled) { scheduled.position = position; return; }
    scheduled = { position };
    requestAnimationFrame(async () => {
      const [x, y] = scheduled.position;
      scheduled = null;
      try {
        paint(state, await decodeAt(state, x, y));
        state.caption.textContent = `At the pointer (${x.toFixed(2)}, ${y.toFixed(2)})`;
      } catch (error) {
        state.caption.textContent = `The in-page model failed (${error}): ${state.data.fallback}`;
      }
    });
  });
}

function mapView(root, state) {
  if (!state.figure) {
    state.figure = document.createElement('figure');
    state.figure.style.margin = '0 0 0.5rem 0';
    state.canvas.style.cssText = `width: ${state.data.width}px; max-width: 100%; image-rendering: pixelated; background: #000;`;
    state.caption = document.createElement('figcaption');
    state.caption.textContent = 'Hover over the map: the digit decoded at the pointer shows here.';
    state.figure.append(state.canvas, state.caption);
    root.append(state.figure);
    state.picture = () => null; // draws into its own canvas
  }
  followPointer(root, state);
}

// The digit at fraction t of the straight path from z0 to z1 (multigen.explore.latent.interpolate).
async function decodeAlong(state, t) {
  const data = state.data;
  const z = Float32Array.from(data.z0, (start, j) => (1 - t) * start + t * data.z1[j]);
  const view = { ...data, start: z, directions: [], code: null, labels: data.label === null ? null : [data.label] };
  return decode({ ...state, data: view }, []);
}

function pathView(root, state) {
  if (state.figure) return;
  state.figure = document.createElement('figure');
  state.figure.style.margin = '0';
  state.canvas.style.cssText = `width: ${state.data.width}px; max-width: 100%; image-rendering: pixelated; background: #000;`;
  const controls = document.createElement('div');
  controls.style.cssText = 'display: flex; gap: 0.5rem; align-items: center;';
  const play = document.createElement('button');
  play.type = 'button';
  play.textContent = 'Play';
  const scrubber = document.createElement('input');
  Object.assign(scrubber, { type: 'range', min: 0, max: 1, step: 0.005, value: 0 });
  scrubber.setAttribute('aria-label', 'Along the path');
  scrubber.style.flex = '1';
  state.caption = document.createElement('figcaption');
  controls.append(play, scrubber);
  state.figure.append(state.canvas, controls, state.caption);
  root.append(state.figure);
  state.picture = () => null;
  state.scrubber = scrubber;
  let wanted = null, busy = false;
  const show = async (t) => {
    wanted = t;
    if (busy || !state.model) return;
    busy = true;
    while (wanted !== null) {
      const next = wanted;
      wanted = null;
      paint(state, await decodeAlong(state, next));
      state.caption.textContent = `${Math.round(next * 100)}% of the way from the first pick to the second`;
    }
    busy = false;
  };
  state.show = show;
  scrubber.addEventListener('input', () => show(Number(scrubber.value)));
  play.addEventListener('click', () => {
    const started = performance.now();
    const step = (now) => { // there and back in two seconds, a frame at a time
      const phase = Math.min((now - started) / 2000, 1);
      const t = phase < 0.5 ? phase * 2 : 2 - phase * 2;
      scrubber.value = String(t);
      show(t);
      if (phase < 1) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
}

export default function ({ data, parentElement }) {
  let root = parentElement.querySelector('.mg-live');
  if (!root) {
    root = document.createElement('div');
    root.className = 'mg-live';
    root.style.cssText = 'font-size: 0.8rem; color: rgba(49, 51, 63, 0.6);';
    parentElement.append(root);
  }
  const state = (root.__multigen ??= { root, canvas: document.createElement('canvas'), busy: false, wanted: null });
  state.canvas.width = state.canvas.height = 28;
  state.data = data;
  if (data.source === 'path') {
    globalThis.__multigenLivePath = { decodeAt: async (t) => Array.from(await decodeAlong(state, t)), state };
  }
  if (data.source === 'map') {
    globalThis.__multigenLiveMap = { inverse: (x, y) => Array.from(inverse(state.data, x, y)),
      decodeAt: async (x, y) => Array.from(await decodeAt(state, x, y)), state };
  }
  // The digit this element redraws: the first picture after it in the same column.
  if (data.source === 'sliders') state.picture = () => {
    let container = root.closest('[data-testid=stElementContainer]')?.nextElementSibling;
    for (; container; container = container.nextElementSibling) {
      const image = container.querySelector('[data-testid=stImage] img');
      if (image) return image;
    }
    return null;
  };
  state.draw = async (values) => {
    state.wanted = values;
    if (state.busy || !state.model) return;
    state.busy = true;
    try {
      while (state.wanted) {
        const next = state.wanted;
        state.wanted = null;
        paint(state, await decode(state, next));
      }
    } catch (error) {
      root.textContent = `The in-page model failed (${error}): ${state.data.fallback}`;
    } finally {
      state.busy = false;
    }
  };
  if (data.source === 'sliders') globalThis.__multigenLiveDigit = { noiseVector: (values) => Array.from(noiseVector(state.data, values)),
    decode: async (values) => Array.from(await decode(state, values)), state };
  if (!state.loading) {
    // The map's hover waits for the map: loading the runtime (a 12 MB WebAssembly file, from the same server)
    // beside Plotly's first drawing delayed the map by more than a second on 2 cores (benchmarks/README.md).
    if (data.source !== 'map') startLoading(root, state);
  } else if (state.modelUrl !== data.model && state.ort) {
    state.model = null;
    session(data, state.ort, data.model).then((model) => { state.model = model; });
  }
  state.modelUrl = data.model;
  if (data.source === 'path') {
    pathView(root, state);
    state.loading.then(() => state.show && state.show(Number(state.scrubber.value))); // a new path: redraw
  } else if (data.source === 'map') {
    mapView(root, state);
    if (!state.observer) { // the chart can be drawn after this element, or drawn anew
      let scheduled = false; // at most once a frame, however much of the page changes
      state.observer = new MutationObserver(() => {
        if (scheduled) return;
        scheduled = true;
        requestAnimationFrame(() => { scheduled = false; followPointer(root, state); });
      });
      state.observer.observe(document.body, { childList: true, subtree: true });
    }
    followPointer(root, state); // the chart may be drawn already
  } else if (!state.observer) {
    let scheduled = false;
    state.observer = new MutationObserver(() => {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => { scheduled = false; state.draw(sliderValues(state.data)); });
    });
    state.observer.observe(document.body, { attributes: true, attributeFilter: ['aria-valuetext'], subtree: true });
  }
  return () => {
    state.observer?.disconnect();
    state.observer = null;
  };
}

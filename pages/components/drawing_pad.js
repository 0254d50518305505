// The Latent explorer's drawing pad (see pages/ui/drawing_pad.py): a person draws a digit (mouse, pen or
// finger) and, stroke by stroke, sees it as the VAE sees it: the digit made MNIST-like, where the encoder
// puts it on the map (a ring over the plotly chart), its reconstruction and, for a CVAE, the label the model
// finds most likely. An uploaded digit is shown and placed the same way.
//
// Everything here computes what multigen computes, and tests/pages/test_drawing_pad_js.py checks it in Node:
// drawStrokes and mnistDigit are multigen.preprocess.draw_strokes and mnist_digit (steps 1-4, every
// rounding half up), place is multigen.explore.projection.Projection.place, negativeElbo is
// multigen.explore.latent.negative_elbo. The encoder and decoder run as exported ONNX files
// (multigen.export) in onnxruntime-web's WebAssembly build (static/ort/).

export const PAD_CELLS = 28, SUBCELLS = 4, BRUSH_RADIUS = 1.8, BRUSH_EDGE = 1.4, MAX_STROKE_POINTS = 20000; // multigen.preprocess
const SIZE = 28, BOX = 20, INK = 0.2, PROBABILITY_FLOOR = 1e-6;
const INVERSE_NEIGHBOURS = 8; // multigen.explore.projection
const PAD_PIXELS = PAD_CELLS * SUBCELLS;

const halfUp = (value) => Math.floor(value + 0.5);
const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

// One segment of a stroke (points in cells) stamped into the pad's ink (PAD_PIXELS squared, row-major):
// draw_strokes' brush, the maximum of the old ink and clamp((R - d) / E + 1/2, 0, 1).
function stamp(ink, a, b) {
  const radius = BRUSH_RADIUS * SUBCELLS, edge = BRUSH_EDGE * SUBCELLS, reach = radius + edge / 2 + 1;
  const ax = a[0] * SUBCELLS, ay = a[1] * SUBCELLS, bx = b[0] * SUBCELLS, by = b[1] * SUBCELLS;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach)), x1 = Math.min(PAD_PIXELS, Math.ceil(Math.max(ax, bx) + reach));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - reach)), y1 = Math.min(PAD_PIXELS, Math.ceil(Math.max(ay, by) + reach));
  const ex = bx - ax, ey = by - ay, length2 = ex * ex + ey * ey;
  for (let row = y0; row < y1; row++) {
    const py = row + 0.5;
    for (let column = x0; column < x1; column++) {
      const px = column + 0.5;
      const t = length2 > 0 ? clamp(((px - ax) * ex + (py - ay) * ey) / length2, 0, 1) : 0;
      const dx = px - (ax + t * ex), dy = py - (ay + t * ey);
      const value = clamp((radius - Math.sqrt(dx * dx + dy * dy)) / edge + 0.5, 0, 1);
      const index = row * PAD_PIXELS + column;
      if (value > ink[index]) ink[index] = value;
    }
  }
}

// The pad's picture of ``strokes`` (lists of [x, y] in cells): multigen.preprocess.draw_strokes.
export function drawStrokes(strokes) {
  const ink = new Float64Array(PAD_PIXELS * PAD_PIXELS);
  for (const stroke of strokes) {
    if (stroke.length === 1) stamp(ink, stroke[0], stroke[0]);
    for (let i = 1; i < stroke.length; i++) stamp(ink, stroke[i - 1], stroke[i]);
  }
  return ink;
}

// (target, source) weights: how much of each source pixel each target pixel covers, rows summing to 1.
function coverage(source, target) {
  const scale = source / target;
  return Array.from({ length: target }, (_, i) => {
    const weights = new Float64Array(source);
    const start = i * scale, end = (i + 1) * scale;
    let total = 0;
    for (let j = Math.floor(start); j < Math.min(Math.ceil(end), source); j++) {
      weights[j] = Math.min(end, j + 1) - Math.max(start, j);
    }
    for (const weight of weights) total += weight;
    return weights.map((weight) => weight / total);
  });
}

// Grey levels in [0, 1] (height x width, row-major) to an MNIST digit (784 values 0-255), or null when there
// is no ink: multigen.preprocess.mnist_digit's steps 1-4 (invert dark-on-light, box the ink to 20 pixels by
// area-weighted resampling, centre by mass in 28 x 28).
export function mnistDigit(grey, height, width) {
  let pixels = Float64Array.from(grey);
  let border = 0;
  for (let column = 0; column < width; column++) border += pixels[column] + pixels[(height - 1) * width + column];
  for (let row = 0; row < height; row++) border += pixels[row * width] + pixels[row * width + width - 1];
  if (border / (2 * width + 2 * height) > 0.5) pixels = pixels.map((value) => 1 - value);
  let top = height, bottom = -1, left = width, right = -1;
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      if (pixels[row * width + column] > INK) {
        top = Math.min(top, row); bottom = Math.max(bottom, row);
        left = Math.min(left, column); right = Math.max(right, column);
      }
    }
  }
  if (bottom < 0) return null;
  const inkHeight = bottom - top + 1, inkWidth = right - left + 1;
  const scale = BOX / Math.max(inkHeight, inkWidth);
  const newHeight = Math.max(1, halfUp(inkHeight * scale)), newWidth = Math.max(1, halfUp(inkWidth * scale));
  const rowWeights = coverage(inkHeight, newHeight), columnWeights = coverage(inkWidth, newWidth);
  const tall = Array.from({ length: newHeight }, (_, i) => { // rows resampled first, as (Wr @ ink) @ Wc.T
    const out = new Float64Array(inkWidth);
    for (let j = 0; j < inkWidth; j++) {
      let sum = 0;
      for (let k = 0; k < inkHeight; k++) sum += rowWeights[i][k] * pixels[(top + k) * width + left + j];
      out[j] = sum;
    }
    return out;
  });
  const boxed = tall.map((row) => Float64Array.from(columnWeights, (weights) => {
    let sum = 0;
    for (let k = 0; k < inkWidth; k++) sum += row[k] * weights[k];
    return sum;
  }));
  // Whole grey levels before the centre of mass: its sums are then exact in any order (multigen's too).
  const levels = boxed.map((row) => row.map((value) => clamp(Math.floor(value * 255 + 0.5), 0, 255)));
  let total = 0, rowMoment = 0, columnMoment = 0;
  levels.forEach((row, i) => row.forEach((value, j) => { total += value; rowMoment += value * i; columnMoment += value * j; }));
  if (total === 0) return null;
  const offsetRow = clamp(halfUp(13.5 - rowMoment / total), 0, SIZE - newHeight);
  const offsetColumn = clamp(halfUp(13.5 - columnMoment / total), 0, SIZE - newWidth);
  const digit = new Uint8ClampedArray(SIZE * SIZE);
  levels.forEach((row, i) => row.forEach((value, j) => { digit[(offsetRow + i) * SIZE + offsetColumn + j] = value; }));
  return digit;
}

// A latent vector's place on the map: multigen.explore.projection.Projection.place.
export function place(projection, mu) {
  if (projection.method === 'raw') return [mu[0], mu[1]];
  if (projection.method === 'pca') {
    return projection.components.map((axis) => axis.reduce((sum, value, j) => sum + (mu[j] - projection.mean[j]) * value, 0));
  }
  const latents = projection.latents, k = Math.min(INVERSE_NEIGHBOURS, latents.length);
  const nearest = latents.map((latent, row) => {
    let sum = 0;
    for (let j = 0; j < latent.length; j++) sum += (latent[j] - mu[j]) ** 2;
    return [Math.sqrt(sum), row];
  }).sort((a, b) => a[0] - b[0]).slice(0, k);
  const tolerance = 1e-9 * (projection.latentSpread || 1);
  if (nearest[0][0] <= tolerance) return projection.points[nearest[0][1]].slice();
  let total = 0, x = 0, y = 0;
  for (const [distance, row] of nearest) {
    const weight = 1 / Math.max(distance, tolerance);
    total += weight;
    x += weight * projection.points[row][0];
    y += weight * projection.points[row][1];
  }
  return [x / total, y / total];
}

// -ELBO (nats) of the digit (784 values 0-255) under each row of mu, logvar (k x d) and the decoder's
// pixels (k x 784): multigen.explore.latent.negative_elbo.
export function negativeElbo(digit, mu, logvar, pixels) {
  return mu.map((means, i) => {
    let bce = 0, kl = 0;
    for (let j = 0; j < 784; j++) {
      const x = digit[j] / 255, p = clamp(pixels[i][j], PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR);
      bce -= x * Math.log(p) + (1 - x) * Math.log(1 - p);
    }
    means.forEach((m, j) => { kl += 1 + logvar[i][j] - m * m - Math.exp(logvar[i][j]); });
    return bce - 0.5 * kl;
  });
}

// The runtime and the models' sessions, shared by the components of the tab (static/js/onnx_models.mjs).
const loader = (data) => import(new URL(data.loader, window.location.href).href);
const runtime = (data) => loader(data).then((models) => models.runtime(data));
const session = (data, ort, url) => loader(data).then((models) => models.session(ort, url));

// The digit as the VAE sees it: encoded (under every label for a CVAE, keeping the most likely), decoded,
// placed on the map.
async function understand({ ort, encoder, decoder, data }, digit) {
  const n = data.conditional ? data.numClasses : 1;
  const images = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) for (let j = 0; j < 784; j++) images[i * 784 + j] = digit[j] / 255;
  const labels = data.conditional ? new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [n]) : null;
  const encoded = await encoder.run({ images: new ort.Tensor('float32', images, [n, 1, 28, 28]), ...(labels ? { labels } : {}) });
  const d = encoded.mu.dims[1];
  const rows = (tensor, width) => Array.from({ length: n }, (_, i) => Array.from(tensor.data.subarray(i * width, (i + 1) * width)));
  const mu = rows(encoded.mu, d), logvar = rows(encoded.logvar, d);
  const decoded = await decoder.run({ z: encoded.mu, ...(labels ? { labels } : {}) });
  const pixels = rows(decoded.pixels, 784);
  let best = 0, scores = null;
  if (data.conditional) {
    scores = negativeElbo(digit, mu, logvar, pixels);
    scores.forEach((score, i) => { if (score < scores[best]) best = i; });
  }
  return { mu: mu[best], label: data.conditional ? best : null, scores,
    reconstruction: Uint8ClampedArray.from(pixels[best], (p) => Math.round(p * 255)),
    point: data.projection.method === 'none' ? null : place(data.projection, mu[best]) };
}

function paintDigit(canvas, digit) {
  const context = canvas.getContext('2d');
  const frame = context.createImageData(28, 28);
  for (let i = 0; i < 784; i++) frame.data.set([digit[i], digit[i], digit[i], 255], i * 4);
  context.putImageData(frame, 0, 0);
}

function paintPad(state) {
  const context = state.pad.getContext('2d');
  const frame = context.createImageData(PAD_PIXELS, PAD_PIXELS);
  if (state.upload) { // an uploaded digit fills the pad, each of its pixels a cell
    for (let i = 0; i < PAD_PIXELS * PAD_PIXELS; i++) {
      const row = Math.floor(Math.floor(i / PAD_PIXELS) / SUBCELLS), column = Math.floor((i % PAD_PIXELS) / SUBCELLS);
      const value = state.upload[row * 28 + column];
      frame.data.set([value, value, value, 255], i * 4);
    }
  } else {
    for (let i = 0; i < state.ink.length; i++) {
      const value = Math.round(state.ink[i] * 255);
      frame.data.set([value, value, value, 255], i * 4);
    }
  }
  context.putImageData(frame, 0, 0);
}

// The ring that marks the digit on the plotly map with key ``data.chart``, kept in place as the map redraws.
function placeMarker(state) {
  const chart = document.querySelector(`.st-key-${state.data.chart} .js-plotly-plot`);
  const layout = chart && chart._fullLayout;
  if (!state.point || !layout || !layout.xaxis || !layout.yaxis) {
    state.marker?.remove();
    return;
  }
  if (!state.marker || state.marker.parentElement !== chart) {
    state.marker?.remove();
    state.marker = document.createElement('div');
    state.marker.className = 'mg-pad-marker';
    state.marker.title = 'Your digit';
    state.marker.style.cssText = 'position: absolute; width: 18px; height: 18px; margin: -12px 0 0 -12px; '
      + 'border: 3px solid #111; border-radius: 50%; box-shadow: 0 0 0 2px #fff; pointer-events: none; z-index: 10;';
    if (getComputedStyle(chart).position === 'static') chart.style.position = 'relative';
    chart.append(state.marker);
  }
  const [x, y] = state.point;
  const px = layout.xaxis._offset + layout.xaxis.l2p(x), py = layout.yaxis._offset + layout.yaxis.l2p(y);
  const inside = px >= layout.xaxis._offset && px <= layout.xaxis._offset + layout.xaxis._length
    && py >= layout.yaxis._offset && py <= layout.yaxis._offset + layout.yaxis._length;
  state.marker.style.left = `${clamp(px, layout.xaxis._offset, layout.xaxis._offset + layout.xaxis._length)}px`;
  state.marker.style.top = `${clamp(py, layout.yaxis._offset, layout.yaxis._offset + layout.yaxis._length)}px`;
  state.marker.style.borderStyle = inside ? 'solid' : 'dashed'; // dashed: off the visible part of the map
}

function clearView(state, text) {
  Object.assign(state, { point: null, label: null, scores: null, mu: null });
  paintDigit(state.reconstructionCanvas, new Uint8ClampedArray(784));
  state.caption.textContent = text;
  placeMarker(state);
}

async function update(state) {
  state.wanted = true;
  if (state.busy) return;
  state.busy = true;
  try {
    while (state.wanted) {
      state.wanted = false;
      state.digit = state.upload ? state.upload : mnistDigit(state.ink, PAD_PIXELS, PAD_PIXELS);
      paintPad(state);
      paintDigit(state.view, state.digit || new Uint8ClampedArray(784));
      if (!state.digit) {
        clearView(state, 'Draw a digit: it appears on the map as the encoder sees it.');
        continue;
      }
      // What this pass uses, taken now: a new checkpoint or map arriving meanwhile makes its answer stale.
      const models = { ort: state.ort, encoder: state.encoder, decoder: state.decoder, data: state.data };
      if (!models.encoder || !models.decoder) continue; // still loading: drawn again when they are ready
      const seen = await understand(models, state.digit);
      if (models.encoder !== state.encoder || models.data !== state.data) {
        state.wanted = true; // answered for another model or map: work it out again
        continue;
      }
      Object.assign(state, seen);
      paintDigit(state.reconstructionCanvas, seen.reconstruction);
      placeMarker(state);
      let text = seen.point ? `On the map at (${seen.point[0].toFixed(2)}, ${seen.point[1].toFixed(2)})`
        : `Not placed: ${state.data.projection.why}`;
      if (seen.label !== null) {
        const order = seen.scores.map((score, label) => [score, label]).sort((a, b) => a[0] - b[0]);
        text += ` · read as ${seen.label} (−ELBO at the posterior mean ${order[0][0].toFixed(1)} nats; `
          + `next ${order[1][1]} at ${order[1][0].toFixed(1)})`;
      }
      state.caption.textContent = text;
      state.root.dataset.updates = String(Number(state.root.dataset.updates || 0) + 1);
    }
  } catch (error) {
    clearView(state, `The in-page model failed (${error}): ${state.data.fallback}`);
  } finally {
    state.busy = false;
  }
}

function redraw(state) {
  state.ink = drawStrokes(state.strokes);
  update(state);
}

// Tell the server what the pad holds: the strokes (it makes the same digit with
// multigen.preprocess.strokes_digit), or null. Every message is numbered; the server sends back the number of
// the last one it heard ("heard"), so the pad can tell an answer to an older message from the newest.
function send(state) {
  state.sent = (state.sent || 0) + 1;
  state.yoursId = state.strokes.length ? `drawing-${state.sent}` : null;
  state.setStateValue('yours', {
    sent: state.sent, id: state.yoursId,
    strokes: state.strokes.length ? state.strokes.map((stroke) => stroke.map(([x, y]) => [x, y])) : null,
  });
}

// Show what the server says the pad holds (an upload, nothing after an upload was removed, or the strokes of
// a drawing made before the pad was mounted again), unless the server has not yet heard the pad's newest
// message (its answer is older than what the pad shows) or a stroke is being drawn (then once it ends).
function adopt(state, yours, heard) {
  state.sent = Math.max(state.sent || 0, heard || 0); // numbering goes on across mounts of the pad
  if ((heard || 0) < state.sent) return;
  if (state.current) { state.pending = [yours, heard]; return; }
  const id = yours ? yours.id : null;
  if (id === (state.yoursId ?? null)) return;
  state.yoursId = id;
  state.upload = yours && yours.pixels ? Uint8ClampedArray.from(yours.pixels) : null;
  state.strokes = yours && yours.strokes ? yours.strokes.map((stroke) => stroke.map(([x, y]) => [x, y])) : [];
  state.ink = drawStrokes(state.strokes);
}

// Loads the runtime and the models of ``state.data`` once the map is drawn, or at once (``now``: the pad holds a
// digit). The pad's tab sits beside the map, whose own loading comes first on a first visit (onnxruntime's 3 MB of
// WebAssembly and the two models, from the same server, delayed the map by a second); a digit drawn before the map
// is drawn starts the loading itself.
function loadModels(state, now = false) {
  const data = state.data, wanted = state.wantedModels, root = state.root;
  const chart = document.querySelector(`.st-key-${data.chart} .js-plotly-plot`);
  if (state.models === wanted || !(now || (chart && chart._fullLayout))) return;
  state.models = wanted;
  runtime(data)
    .then(async (ort) => {
      const [encoder, decoder] = await Promise.all([session(data, ort, data.encoder), session(data, ort, data.decoder)]);
      if (state.wantedModels !== wanted) return; // another checkpoint was picked meanwhile
      Object.assign(state, { ort, encoder, decoder });
      root.dataset.ready = 'true';
      update(state);
    })
    .catch((error) => {
      if (state.wantedModels !== wanted) return;
      root.dataset.ready = 'false';
      clearView(state, `The in-page model could not load (${error}): ${data.fallback}`);
    });
}

function build(root, state) {
  const pixels = state.data.width;
  root.innerHTML = '';
  const row = document.createElement('div');
  row.style.cssText = 'display: flex; gap: 0.75rem; flex-wrap: wrap; align-items: flex-start;';
  const padColumn = document.createElement('div');
  state.pad = Object.assign(document.createElement('canvas'), { width: PAD_PIXELS, height: PAD_PIXELS });
  state.pad.setAttribute('aria-label', 'Drawing pad: draw one digit');
  state.pad.style.cssText = `width: ${pixels}px; height: ${pixels}px; touch-action: none; cursor: crosshair; `
    + 'background: #000; border-radius: 4px; display: block;';
  const buttons = document.createElement('div');
  buttons.style.cssText = 'display: flex; gap: 0.5rem; margin-top: 0.35rem;';
  state.undo = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Undo' });
  state.clear = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Clear' });
  buttons.append(state.undo, state.clear);
  padColumn.append(state.pad, buttons);
  const seen = document.createElement('div');
  seen.style.cssText = 'display: flex; gap: 0.5rem;';
  const figure = (title) => {
    const box = document.createElement('figure');
    box.style.margin = '0';
    const canvas = Object.assign(document.createElement('canvas'), { width: 28, height: 28 });
    canvas.style.cssText = `width: ${Math.round(pixels * 0.4)}px; image-rendering: pixelated; background: #000; display: block;`;
    const caption = Object.assign(document.createElement('figcaption'), { textContent: title });
    box.append(canvas, caption);
    seen.append(box);
    return canvas;
  };
  state.view = figure('As MNIST (28 × 28)');
  state.reconstructionCanvas = figure('Reconstruction');
  row.append(padColumn, seen);
  state.caption = Object.assign(document.createElement('p'), { textContent: 'Loading the model…' });
  state.caption.style.margin = '0.35rem 0 0 0';
  root.append(row, state.caption);

  // One pointer draws at a time (a second finger is ignored), with the primary button; points are kept on the
  // pad and at most MAX_STROKE_POINTS in all, as multigen.preprocess accepts them.
  const cell = (event) => {
    const box = state.pad.getBoundingClientRect();
    return [clamp((event.clientX - box.left) / box.width * PAD_CELLS, 0, PAD_CELLS),
      clamp((event.clientY - box.top) / box.height * PAD_CELLS, 0, PAD_CELLS)];
  };
  const points = () => state.strokes.reduce((sum, stroke) => sum + stroke.length, 0);
  let scheduled = false;
  const later = () => { // at most one update a frame, however fast the pointer moves
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; update(state); });
  };
  state.pad.addEventListener('pointerdown', (event) => {
    if (state.current || event.button !== 0 || points() >= MAX_STROKE_POINTS) return;
    event.preventDefault();
    try { state.pad.setPointerCapture(event.pointerId); } catch { /* a synthetic pointer: nothing to capture */ }
    if (state.upload) { state.upload = null; state.ink = new Float64Array(PAD_PIXELS * PAD_PIXELS); } // drawn over
    loadModels(state, true);
    state.pointer = event.pointerId;
    state.current = [cell(event)];
    state.strokes.push(state.current);
    stamp(state.ink, state.current[0], state.current[0]);
    later();
  });
  state.pad.addEventListener('pointermove', (event) => {
    if (!state.current || event.pointerId !== state.pointer || points() >= MAX_STROKE_POINTS) return;
    const point = cell(event), last = state.current[state.current.length - 1];
    if (Math.hypot(point[0] - last[0], point[1] - last[1]) < 0.05) return; // under a fifth of a pixel
    state.current.push(point);
    stamp(state.ink, last, point);
    later();
  });
  const end = (event) => {
    if (!state.current || event.pointerId !== state.pointer) return;
    state.current = null;
    send(state);
    if (state.pending) { const [yours, heard] = state.pending; state.pending = null; adopt(state, yours, heard); update(state); }
  };
  state.pad.addEventListener('pointerup', end);
  state.pad.addEventListener('pointercancel', end);
  state.undo.addEventListener('click', () => {
    if (state.upload) state.upload = null; else state.strokes.pop();
    redraw(state);
    send(state);
  });
  state.clear.addEventListener('click', () => { state.strokes = []; state.upload = null; redraw(state); send(state); });
}

export default function ({ data, parentElement, setStateValue }) {
  let root = parentElement.querySelector('.mg-pad');
  if (!root) {
    root = document.createElement('div');
    root.className = 'mg-pad';
    root.style.cssText = 'font-size: 0.8rem; color: rgba(49, 51, 63, 0.6);';
    parentElement.append(root);
  }
  const state = (root.__multigen ??= { root, strokes: [], ink: new Float64Array(PAD_PIXELS * PAD_PIXELS), upload: null });
  state.data = data;
  state.setStateValue = setStateValue;
  if (!state.pad) build(root, state);
  adopt(state, data.yours, data.heard);
  globalThis.__multigenDrawingPad = {
    state, strokes: () => state.strokes, digit: () => (state.digit ? Array.from(state.digit) : null),
    point: () => state.point, label: () => state.label, mu: () => (state.mu ? Array.from(state.mu) : null),
  };
  const wanted = `${data.encoder} ${data.decoder}`;
  if (state.wantedModels !== wanted) { // a new checkpoint: nothing of the old one's answer stays on the map
    state.wantedModels = wanted;
    state.encoder = state.decoder = null;
    root.dataset.ready = 'loading';
    if (state.caption) clearView(state, 'Loading the model…');
  }
  state.root = root;
  loadModels(state, Boolean(state.upload || state.strokes.length));
  update(state); // a new map (projection) places the same digit anew
  if (!state.observer) { // the chart can be drawn after this element, or drawn anew (zoom, new map)
    let scheduled = false;
    state.observer = new MutationObserver(() => {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => { scheduled = false; placeMarker(state); loadModels(state); });
    });
    state.observer.observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['transform'] });
  }
  return () => {
    state.observer?.disconnect();
    state.observer = null;
    state.marker?.remove();
    state.marker = null;
  };
}

// The pictures of the Latent explorer's last click, with their title (see pages/ui/picture_panel.py).
//
// The server sends what to show after each script run. A click on a dot shows that dot's pictures at
// once, cut from the sprite sheets of digit_atlas.js (for a large map, its original fetched by index from the
// map's raw file), without waiting for the rerun: the server's
// answer for the same dot then draws the same pictures again (and anything a sheet cannot hold, such
// as a decoded empty position, only comes from the server).
//
// "At once" means as the button goes down: the pictures of the dot under the pointer are made while it hovers,
// and the press shows them, before plotly.js acts on the release (which restyles every point for the selection,
// a long task on a large map). A press that turns into a drag (a zoom, a pan) gives the panel back its last answer.
const atlases = (globalThis.__multigenAtlases ??= new Map());
const ANSWER_WAIT_MS = 5000; // how long an instant view outranks server data about an older pick
const canvas = document.createElement('canvas');
const PREPARED = 64; // the pictures of this many hovered dots are kept ready
const MINDRAG = 8; // plotly.js's own threshold (pixels in x or y) between a click and a drag

function cut(atlas, sheet, row) {
  const image = atlas.sheets[sheet];
  if (!image || !image.complete || !image.naturalWidth) return null;
  const size = atlas.size;
  canvas.width = canvas.height = size;
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, size, size);
  const x = (row % atlas.columns) * size, y = Math.floor(row / atlas.columns) * size;
  if (y + size > image.naturalHeight) return null;
  context.drawImage(image, x, y, size, size, 0, 0, size, size);
  return canvas.toDataURL('image/png');
}

// One dot's picture from a large map's raw file: its size * size bytes, by an HTTP Range request.
export async function fetchRow(atlas, name, row) {
  const size = atlas.size, bytes = size * size;
  const url = atlas.files[name];
  if (!url) return null;
  try {
    const response = await fetch(url, { headers: { Range: `bytes=${row * bytes}-${(row + 1) * bytes - 1}` } });
    if (response.status !== 206) return null; // a server without ranges would send the whole file: not here
    const gray = new Uint8Array(await response.arrayBuffer());
    if (gray.length !== bytes) return null;
    canvas.width = canvas.height = size;
    const context = canvas.getContext('2d');
    const pixels = context.createImageData(size, size);
    for (let i = 0; i < bytes; i++) {
      pixels.data[4 * i] = pixels.data[4 * i + 1] = pixels.data[4 * i + 2] = gray[i];
      pixels.data[4 * i + 3] = 255;
    }
    context.putImageData(pixels, 0, 0);
    return canvas.toDataURL('image/png');
  } catch {
    return null; // the rerun's answer shows the pictures all the same
  }
}

function figureFor(caption, url, width) {
  const figure = document.createElement('figure');
  const image = document.createElement('img');
  const text = document.createElement('figcaption');
  figure.append(image, text);
  return update(figure, caption, url, width);
}

function update(figure, caption, url, width) {
  const image = figure.firstChild, text = figure.lastChild;
  // An image element keeps showing its old picture until the new source has decoded: no blank frame.
  if (image.src !== url) image.src = url;
  image.alt = caption;
  image.style.width = `${width}px`;
  figure.style.flex = `0 1 ${width}px`; // side by side, shrinking alike when the column is narrower
  text.textContent = caption;
  return figure;
}

function draw(root, title, pictures, width) {
  root.__multigen.shown = JSON.stringify([title, pictures.map(picture => picture.caption)]);
  let heading = root.querySelector(':scope > h3'), strip = root.querySelector(':scope > .mg-strip');
  if (!title) heading?.remove();
  else {
    if (!heading) root.prepend(heading = document.createElement('h3'));
    heading.textContent = title;
  }
  if (!pictures.length) return strip?.remove();
  if (!strip) {
    strip = document.createElement('div');
    strip.className = 'mg-strip';
    root.append(strip);
  }
  const figures = [...strip.children];
  pictures.forEach(({ caption, url }, index) => {
    if (figures[index]) update(figures[index], caption, url, width);
    else strip.append(figureFor(caption, url, width));
  });
  figures.slice(pictures.length).forEach(figure => figure.remove());
}

function rowOf(point) {
  let row = point.customdata;
  if (row !== null && typeof row === 'object') row = row[0];
  row = Number(row);
  return Number.isInteger(row) ? row : null;
}

// The pictures of one dot, as data URLs already decoded (so an <img> given one paints in the same frame), or null
// when a sheet is not loaded yet or a fetch failed. Kept per map and dot: hover, press and click share them.
function prepared(state, row) {
  const data = state.data;
  const atlas = data.atlas && atlases.get(data.atlas);
  if (!atlas || !data.instant.length) return null;
  const key = `${data.atlas}:${row}:${data.instant.map(([, sheet]) => sheet).join()}`;
  const kept = (state.prepared ??= new Map());
  if (!kept.has(key)) {
    const pictures = Promise.all(data.instant.map(async ([, sheet]) => {
      const url = atlas.files ? await fetchRow(atlas, sheet, row) : cut(atlas, sheet, row);
      if (!url) return null;
      const image = new Image(); // kept with the URL: the decoded picture stays available to the page
      image.src = url;
      await image.decode().catch(() => {});
      return { url, image };
    })).then(made => (made.some(picture => !picture) ? (kept.delete(key), null) : made));
    kept.set(key, pictures);
    if (kept.size > PREPARED) kept.delete(kept.keys().next().value);
  }
  return kept.get(key);
}

function dotOf(point) {
  const row = point ? rowOf(point) : null;
  if (row === null || row < 0) return null; // empty space: only the server can decode a position
  return { row, label: point.data ? point.data.meta : undefined };
}

async function show(root, dot) {
  const state = root.__multigen;
  const data = state.data;
  const title = `${data.titles[dot.label] ?? ''} · row ${dot.row}`.replace(/^ · /, '');
  if (state.pending && state.pending.row === dot.row && state.shown === JSON.stringify(
    [title, data.instant.map(([caption]) => caption)])) return; // shown at the press already
  const made = prepared(state, dot.row);
  if (!made) return;
  const pending = (state.pending = { row: dot.row, at: performance.now() });
  const pictures = await made; // already made for a hovered dot: this runs on in the same task
  if (state.pending !== pending) return; // a newer click, or the server's answer, came first
  if (!pictures) { state.pending = null; return; }
  draw(root, title, data.instant.map(([caption], index) => ({ caption, url: pictures[index].url })), data.width);
}

function onPress(root, chart, event) {
  if (event.button !== 0) return;
  const hovered = chart._hoverdata; // the point plotly.js will report as clicked on the release
  const dot = dotOf(hovered && hovered[0]);
  const state = root.__multigen;
  state.press = dot && { ...dot, x: event.clientX, y: event.clientY };
  if (!dot) return;
  // On the window: plotly.js covers the page with its own element while the button is down.
  window.addEventListener('pointerup', release => onRelease(root, release), { capture: true, once: true });
  show(root, dot);
}

function onRelease(root, event) {
  const state = root.__multigen, press = state.press;
  state.press = null;
  if (!press) return;
  const dragged = Math.max(Math.abs(event.clientX - press.x), Math.abs(event.clientY - press.y)) >= MINDRAG;
  if (dragged && state.pending && state.pending.row === press.row) { // no click: back to the last answer
    state.pending = null;
    draw(root, state.data.title, state.data.pictures, state.data.width);
  }
}

function attach(root) {
  const chart = document.querySelector(`.st-key-${root.__multigen.data.chart} .js-plotly-plot`);
  if (!chart || typeof chart.on !== 'function') return;
  const listeners = chart.__multigenListeners;
  // A chart that plotly.js drew anew (purge, newPlot) has lost its listeners but keeps our marks: ask
  // its event emitter whether ours is still there (where it cannot say, attach again: remove, then add).
  const registered = listeners && chart._ev && typeof chart._ev.listeners === 'function'
    && chart._ev.listeners('plotly_click').includes(listeners.click);
  if (listeners && chart.__multigenRoot === root && registered) return;
  if (listeners) {
    if (typeof chart.removeListener === 'function') {
      chart.removeListener('plotly_click', listeners.click);
      chart.removeListener('plotly_hover', listeners.hover);
    }
    chart.removeEventListener('pointerdown', listeners.press, true);
  }
  chart.__multigenRoot = root;
  chart.__multigenListeners = {
    click: event => { const dot = dotOf(event && event.points && event.points[0]); if (dot) show(root, dot); },
    hover: event => { const dot = dotOf(event && event.points && event.points[0]); if (dot) prepared(root.__multigen, dot.row); },
    press: event => onPress(root, chart, event),
  };
  chart.on('plotly_click', chart.__multigenListeners.click);
  chart.on('plotly_hover', chart.__multigenListeners.hover);
  // Capture: before plotly.js's own handlers below (on a large map, its work on the release takes a while).
  chart.addEventListener('pointerdown', chart.__multigenListeners.press, true);
}

export default function ({ data, parentElement }) {
  let root = parentElement.querySelector('.mg-pictures');
  if (!root) {
    root = document.createElement('div');
    root.className = 'mg-pictures';
    parentElement.append(root);
  }
  const state = (root.__multigen ??= { pending: null });
  state.data = data;
  const pending = state.pending;
  // An answer about an older pick (a rerun still under way when the click came) must not replace the
  // picture of the dot just clicked.
  const answered = pending && data.row === pending.row;
  if (!pending || answered || performance.now() - pending.at > ANSWER_WAIT_MS) {
    state.pending = null;
    // The answer to an instant view shows what that view already shows: keep it.
    const same = answered && state.shown === JSON.stringify([data.title, data.pictures.map(p => p.caption)]);
    if (!same) draw(root, data.title, data.pictures, data.width);
  }
  attach(root);
  // The chart can be drawn after this element, or drawn anew (another map): attach when it appears.
  if (!state.observer) {
    let scheduled = false;
    state.observer = new MutationObserver(() => {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => { scheduled = false; attach(root); });
    });
    state.observer.observe(document.body, { childList: true, subtree: true });
  }
  return () => {
    if (state.observer) state.observer.disconnect();
    state.observer = null;
  };
}

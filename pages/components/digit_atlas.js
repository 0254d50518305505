// Holds the sprite sheets of a latent map's dots in the browser (see pages/ui/picture_panel.py): one sheet per
// kind of picture, every dot's picture at column row % columns, row floor(row / columns); for a large map, the
// addresses of raw files of its pictures instead, row i at byte i * size * size.
// The sheets never change from click to click, so Streamlit sends this element once and then only a
// reference to it; digit_pictures.js cuts the clicked dot's pictures out of them.
const atlases = (globalThis.__multigenAtlases ??= new Map());
const KEEP = 4; // sheets of the last few maps (a tab switching between maps keeps them warm)

export default function ({ data }) {
  if (!data || !data.id || atlases.has(data.id)) return;
  if (data.files) { // a large map: raw rows of size * size bytes, fetched one dot at a time on a click
    atlases.set(data.id, { size: data.size, files: data.files });
    while (atlases.size > KEEP) atlases.delete(atlases.keys().next().value);
    return;
  }
  const sheets = {};
  for (const [name, url] of Object.entries(data.sheets)) {
    const image = new Image();
    image.src = url;
    image.decode().catch(() => {}); // decoded ahead of the first click; a broken sheet only loses the shortcut
    sheets[name] = image;
  }
  atlases.set(data.id, { columns: data.columns, size: data.size, sheets });
  while (atlases.size > KEEP) atlases.delete(atlases.keys().next().value);
}

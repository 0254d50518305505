// Says when an element of the page is on screen (see pages/ui/when_drawn.py): the first time an element that
// matches data.selector is in the page, after the frame that paints it, it sets its state 'drawn' to true, which
// reruns the script. The page then sends what it held back so that the browser would draw that element first.
export default function ({ data, setStateValue }) {
  if (!data || !data.selector) return;
  let told = false;
  const tell = () => {
    if (told) return;
    told = true;
    // After the next paint: the element is on screen before the browser starts on what the rerun brings.
    requestAnimationFrame(() => setTimeout(() => setStateValue('drawn', true), 0));
  };
  if (document.querySelector(data.selector)) {
    tell();
    return;
  }
  const observer = new MutationObserver(() => {
    if (document.querySelector(data.selector)) {
      observer.disconnect();
      tell();
    }
  });
  observer.observe(document.body, { childList: true, subtree: true });
  return () => observer.disconnect();
}

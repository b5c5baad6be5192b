import { listen, type Off } from './listen';

/**
 * Fires once each time the page stops being seen: `visibilitychange` to hidden, or
 * `pagehide` (which Safari may send without a visibilitychange). This is the last
 * moment a page is known to run, so it is when beacons are flushed.
 * Never `unload` or `beforeunload`: either would cost the page its back/forward
 * cache (https://web.dev/articles/bfcache#never-use-the-unload-event).
 */
export function onHidden(win: Window, cb: () => void): Off {
  const doc = win.document;
  let hidden = doc.visibilityState === 'hidden';
  /** The page is hidden (true) or shown (false) now: the callback fires on the change to hidden only. */
  const seen = (now: boolean) => {
    const was = hidden;
    hidden = now;
    if (now && !was) cb();
  };
  const offs = [
    listen(doc, 'visibilitychange', () => seen(doc.visibilityState === 'hidden'), true),
    listen(win, 'pagehide pageshow', (e) => seen(e.type === 'pagehide'), true),
  ];
  return () => offs.forEach((off) => off());
}

import { listen, offAll, type Off } from './listen';

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
  const hide = () => {
    if (!hidden) {
      hidden = true;
      cb();
    }
  };
  const show = () => {
    hidden = false;
  };
  const offs = [
    listen(doc, 'visibilitychange', () => (doc.visibilityState === 'hidden' ? hide() : show()), true),
    listen(win, 'pagehide', hide, true),
    listen(win, 'pageshow', show, true),
  ];
  return offAll(offs);
}

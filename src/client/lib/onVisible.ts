import { listen, type Off } from './listen';

/** Fires each time a hidden page becomes visible again (a tab switched back to). */
export function onVisible(doc: Document, cb: () => void): Off {
  return listen(doc, 'visibilitychange', () => doc.visibilityState === 'visible' && cb(), true);
}

import { listen, type Off } from './listen';

/**
 * Fires when the page is restored from the back/forward cache (`pageshow` with
 * `persisted`): to the person this is a new page view, so it gets a new pageId.
 */
export function onRestore(win: Window, cb: () => void): Off {
  return listen(win, 'pageshow', (e) => (e as PageTransitionEvent).persisted && cb(), true);
}

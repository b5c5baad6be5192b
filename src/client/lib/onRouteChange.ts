import { listen, type Off } from './listen';

/** Fired on the window by our wrappers of pushState and replaceState. */
const ROUTE = 'sessionbeacon:route';

/**
 * Fires after a same-document URL change of a single-page app: `pushState`,
 * `replaceState`, `popstate` and `hashchange`. The history methods are wrapped
 * once per page, and the wrappers stay (unwrapping could undo another library's
 * wrapper installed after ours); they only dispatch an event, so a destroyed
 * tracker simply stops listening. The callback decides whether the URL really
 * changed (the same URL twice is one page view).
 */
export function onRouteChange(win: Window, cb: () => void): Off {
  const history = win.history as History & { sbWrapped?: 1 };
  if (history && !history.sbWrapped) {
    history.sbWrapped = 1;
    for (const name of ['pushState', 'replaceState'] as const) {
      const original = history[name];
      history[name] = function (this: History, ...args: Parameters<History['pushState']>) {
        const result = original.apply(this, args);
        win.dispatchEvent(new Event(ROUTE));
        return result;
      };
    }
  }
  return listen(win, `${ROUTE} popstate hashchange`, () => cb());
}

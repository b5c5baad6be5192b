import { listen } from './listen';

/**
 * Calls back once the page is shown: at once for an ordinary page, on
 * `prerenderingchange` for a prerendered one, which must count nothing until the
 * person actually navigates to it (https://developer.chrome.com/docs/web-platform/prerender-pages).
 */
export function whenActivated(doc: Document, cb: () => void): void {
  if ((doc as Document & { prerendering?: boolean }).prerendering) {
    const off = listen(doc, 'prerenderingchange', () => {
      off();
      cb();
    }, true);
  } else {
    cb();
  }
}

/**
 * Sends one request body; resolves true when the collector acknowledged it (2xx),
 * false otherwise. Never rejects. `leaving` is true when the page is being hidden
 * or left: then the request must outlive the page.
 */
export type Transport = (url: string, body: string, leaving: boolean) => Promise<boolean>;

/**
 * The browser transport. Bodies go as text/plain, a CORS "simple" request: no
 * preflight, so it works for a collector on another origin and from sendBeacon.
 * While the page is leaving, `navigator.sendBeacon` (queued by the browser,
 * outlives the page); its `true` only means "queued", not delivered.
 * Otherwise `fetch`, whose status tells us whether the collector took the events.
 */
export const beaconTransport: Transport = (url, body, leaving) => {
  try {
    if (leaving && navigator.sendBeacon?.(url, body)) return Promise.resolve(true);
    // A string body is sent as text/plain;charset=UTF-8 by fetch and sendBeacon alike.
    return fetch(url, { method: 'POST', body, keepalive: leaving, credentials: 'omit' }).then(
      (response) => response.ok,
      () => false,
    );
  } catch {
    return Promise.resolve(false);
  }
};

import { attempt } from './lib/attempt';

/**
 * What became of one request. `status` is the HTTP status; 0 when there was no
 * answer (network error, offline, timeout); -1 when the body was handed to the
 * browser with sendBeacon, whose fate the page never learns. `retryAfter` is the
 * Retry-After header in ms (the collector must expose it to CORS).
 */
export interface Answer {
  status: number;
  retryAfter?: number;
}

/**
 * Sends one request body. `leaving` is true when the page is being hidden or
 * left: then the request must outlive the page. `signal` aborts it (timeout, or
 * the page going into the back/forward cache). Never rejects.
 */
export type Transport = (url: string, body: string, leaving: boolean, signal?: AbortSignal) => Promise<Answer>;

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? +value * 1000 : Date.parse(value) - now;
  return ms >= 0 ? ms : undefined;
}

/**
 * The browser transport. Bodies go as text/plain (a string body's default), a
 * CORS "simple" request: no preflight. While the page is leaving,
 * `navigator.sendBeacon`: the browser sends it after the page is gone, and unlike
 * a keepalive `fetch` in flight it does not keep the page out of Chromium's
 * back/forward cache. A beacon's fate is never known (Chromium even returns true
 * offline), so its events stay queued (status -1). Otherwise a plain `fetch`,
 * whose status tells what became of the events.
 */
export const beaconTransport: Transport = (url, body, leaving, signal) =>
  // Either call may throw (no sendBeacon, no fetch): then there was no answer.
  attempt(() =>
    leaving
      ? Promise.resolve({ status: navigator.sendBeacon(url, body) ? -1 : 0 })
      : fetch(url, { method: 'POST', body, credentials: 'omit', signal }).then(
          (response) => ({ status: response.status, retryAfter: retryAfterMs(response.headers.get('retry-after')) }),
          () => ({ status: 0 }),
        ),
  ) ?? Promise.resolve({ status: 0 });

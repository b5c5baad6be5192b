import { MAX_REQUEST_BYTES, type WireEvent } from '../protocol';
import { packBodies, utf8Length, type BatchMeta, type Body } from './batch';
import type { Queue } from './queue';
import type { Transport } from './transport';

export interface OutboxOptions extends BatchMeta {
  endpoint: string;
  /** A batch is sent this many ms after its first event (so a burst is one request). */
  flushInterval: number;
  /** ...or at once when this many events wait... */
  maxEvents: number;
}

/** ...or at once when this many bytes wait: half a request, so one flush rarely needs two. */
export const FLUSH_BYTES = 32 * 1024;

/** Backoff after a failed request: equal jitter (half fixed, half random), doubling from `base` up to `cap`. */
export const RETRY = { base: 1000, cap: 5 * 60_000, maxRetryAfter: 60 * 60_000 };

/** A request without an answer for this long is given up (and retried): a hanging collector must not hold events forever. */
export const REQUEST_TIMEOUT = 10_000;

export interface Outbox {
  add(event: WireEvent): void;
  /**
   * Sends every queued event that is not already on its way, now (backoff or
   * not); resolves when each request was answered or failed. `leaving`: the page
   * is being hidden or left, so requests must outlive it.
   */
  flush(leaving?: boolean): Promise<void>;
  /** The network is back: retry at once. */
  resume(): void;
  /**
   * The page is left: abort requests in flight (their events stay queued): a
   * request in flight can keep a page out of some browsers' back/forward cache.
   */
  abort(): void;
  stop(): void;
}

const retryable = (status: number) => status === 0 || status === 408 || status === 429 || status >= 500;

/**
 * Sending, with the queue as the source of truth: an event leaves the queue only
 * when the collector acknowledged it (2xx) or refused it for good (a 4xx other
 * than 408, 413 and 429, counted as dropped). A failure (no answer, 408, 429,
 * 5xx) keeps the events and retries after an exponential backoff with jitter, or
 * after Retry-After on 429 and 503; the `online` event retries at once. A 413
 * splits the request in two. Every attempt is packed anew, so `sentAt` is fresh
 * while each event keeps its `id` and `ts`: the collector dedupes by id.
 *
 * While leaving, requests are beacons, whose bytes in flight the browser caps at
 * 64 KiB per page: what does not fit stays queued, and so do the beacons' events,
 * whose fate the page never learns. This page's next flush (if it lives on, or
 * is restored from the back/forward cache) or the page that adopts its queue
 * (queue.ts) sends them again; the collector drops the duplicates by id.
 */
export function createOutbox(
  opts: OutboxOptions,
  transport: Transport,
  now: () => number,
  held: () => boolean,
  queue: Queue,
  random = Math.random,
): Outbox {
  const inFlight = new Set<string>();
  const requests = new Set<AbortController>();
  /** Bytes handed to sendBeacon in this leave: the browser caps them at 64 KiB per page. */
  let leavingBytes = 0;
  let attempt = 0;
  let retryAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const waiting = () => queue.events.length - inFlight.size;
  const schedule = (delay: number) => {
    if (timer === undefined && !held() && waiting() > 0)
      timer = setTimeout(() => {
        timer = undefined;
        // A failure since this timer was set may have pushed the retry further out.
        if (retryAt > now()) schedule(0);
        else void outbox.flush();
      }, Math.max(delay, retryAt - now()));
  };

  /** `dropped` is the count this body reports: given back to the queue unless the body was acknowledged (or handed to the browser as a beacon). */
  const send = ({ body, events }: Body, leaving: boolean, dropped: number): Promise<void> => {
    const bytes = utf8Length(body);
    if (leaving) {
      if (leavingBytes + bytes > MAX_REQUEST_BYTES) return Promise.resolve(queue.lose(dropped));
      leavingBytes += bytes;
    }
    const ids = new Set(events.map((e) => e.id));
    ids.forEach((id) => inFlight.add(id));
    const request = new AbortController();
    requests.add(request);
    const timeout = setTimeout(() => request.abort(), REQUEST_TIMEOUT);
    return transport(opts.endpoint, body, leaving, request.signal).then(({ status, retryAfter }) => {
      clearTimeout(timeout);
      requests.delete(request);
      ids.forEach((id) => inFlight.delete(id));
      const ok = status > 199 && status < 300;
      // A beacon (-1) is taken as delivered for its count: its events stay queued and are
      // deduplicated by id if sent again, a count cannot be, so it is not reported twice.
      if (!ok) queue.lose(status < 0 ? 0 : dropped);
      if (ok) {
        attempt = retryAt = 0;
        queue.remove(ids);
      } else if ((status === 413 || (leaving && !status)) && events.length > 1) {
        // Too large for the collector, or a beacon the browser refused: halve and try again.
        if (leaving) leavingBytes -= bytes;
        // Only what is still queued: an opt-out meanwhile cleared the queue, and its events must not leave.
        const queued = new Set(queue.events.map((e) => e.id));
        const still = events.filter((e) => queued.has(e.id));
        const half = still.length >> 1;
        return Promise.all([still.slice(0, half), still.slice(half)].map((part) => sendAll(part, leaving))).then(() => {});
      } else if (retryable(status)) {
        const ceiling = Math.min(RETRY.cap, RETRY.base * 2 ** attempt++);
        const delay = ceiling / 2 + (random() * ceiling) / 2;
        retryAt = now() + (retryAfter === undefined ? delay : Math.min(Math.max(retryAfter, delay), RETRY.maxRetryAfter));
        schedule(0);
      } else if (status > 0) {
        // Refused for good (400, 403, 404, 422, or a lone event too large): retrying cannot help.
        queue.lose(ids.size);
        queue.remove(ids);
      }
      // status -1 (a beacon, fate unknown): the events stay queued for the next page.
    });
  };

  const sendAll = (events: WireEvent[], leaving: boolean): Promise<void> => {
    const dropped = queue.takeDropped();
    const bodies = packBodies(events, { ...opts, dropped }, now());
    if (!bodies.length) queue.lose(dropped);
    return Promise.all(bodies.map((body, i) => send(body, leaving, i ? 0 : dropped))).then(() => {});
  };

  const outbox: Outbox = {
    add(event) {
      queue.add(event);
      if ((waiting() >= opts.maxEvents || queue.bytes >= FLUSH_BYTES) && retryAt <= now()) void outbox.flush();
      else schedule(opts.flushInterval);
    },
    flush(leaving = false) {
      stop();
      if (held()) return Promise.resolve();
      leavingBytes = 0;
      queue.expire(now());
      const ready = queue.events.filter((e) => !inFlight.has(e.id));
      return ready.length ? sendAll(ready, leaving) : Promise.resolve();
    },
    resume() {
      retryAt = 0;
      void outbox.flush();
    },
    abort: () => requests.forEach((request) => request.abort()),
    stop,
  };
  return outbox;
}

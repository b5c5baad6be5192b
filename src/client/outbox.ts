import type { WireEvent } from '../protocol';
import { packBodies, type BatchMeta } from './batch';
import type { Transport } from './transport';

export interface OutboxOptions extends BatchMeta {
  endpoint: string;
  /** A batch is sent this many ms after its first event (so a burst is one request). */
  flushInterval: number;
  /** ...or at once when it holds this many events. */
  maxEvents: number;
  /** Events kept at most while sending is held (consent pending) or failing; the oldest go first. */
  maxPending: number;
}

export interface Outbox {
  add(event: WireEvent): void;
  /** Sends everything queued; resolves when each request was answered or failed. */
  flush(leaving?: boolean): Promise<void>;
  clear(): void;
}

/**
 * Events waiting to be sent, in order. A batch goes out `flushInterval` ms after
 * its first event, at once when it is full, and at once when the page is hidden.
 * While `held()` (consent pending) events wait in memory; a failed request puts
 * its events back at the front for the next flush, with their ids and ts intact,
 * so a retry can never count an event twice (the collector dedupes by id).
 */
export function createOutbox(opts: OutboxOptions, transport: Transport, now: () => number, held: () => boolean): Outbox {
  let events: WireEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const schedule = () => {
    if (timer === undefined && !held() && events.length) timer = setTimeout(() => void outbox.flush(), opts.flushInterval);
  };
  const outbox: Outbox = {
    add(event) {
      events.push(event);
      events.splice(0, events.length - opts.maxPending); // the oldest go first (a negative count removes nothing)
      if (events.length >= opts.maxEvents) void outbox.flush();
      else schedule();
    },
    flush(leaving = false) {
      stop();
      if (held() || !events.length) return Promise.resolve();
      const bodies = packBodies(events.splice(0), opts, now());
      return Promise.all(
        bodies.map(({ body, events: sent }) =>
          transport(opts.endpoint, body, leaving).then((ok) => {
            if (!ok && !leaving) {
              events.unshift(...sent);
              schedule();
            }
          }),
        ),
      ).then(() => undefined);
    },
    clear() {
      stop();
      events = [];
    },
  };
  return outbox;
}

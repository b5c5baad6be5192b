import type { WireEvent } from '../protocol';
import type { Locks } from './locks';
import type { AsyncArea } from './storage';
import { attempt } from './lib/attempt';

/** IndexedDB key prefix of the page queues: `sb_q:<queueId>`. */
export const QUEUE_PREFIX = 'sb_q:';
/** Without Web Locks, a queue not written for this long belongs to a page that is gone. */
export const QUEUE_LEASE = 5 * 60 * 1000;

export interface QueueLimits {
  /** Events kept at most; the oldest go first. */
  maxEvents: number;
  /** Bytes of JSON kept at most; the oldest go first. */
  maxBytes: number;
  /** Events older than this (by ts) are dropped instead of sent. */
  maxAge: number;
}

/** Adoption is off the first beacon's path: it may wait longer for a busy IndexedDB (ms). */
const PATIENCE = 15_000;

export const QUEUE_LIMITS: QueueLimits = { maxEvents: 1000, maxBytes: 256 * 1024, maxAge: 7 * 24 * 3600 * 1000 };

/** The stored form of a queue. */
interface QueueRecord {
  lease: number;
  events: WireEvent[];
}

export interface Queue {
  /** The events not yet acknowledged, oldest first. */
  readonly events: WireEvent[];
  /**
   * Events dropped (the limits, age, refusals) and not reported yet. The queue is
   * the count's one owner: `lose` adds to it, `takeDropped` hands it to one
   * request body, and a body that was not acknowledged gives it back with `lose`,
   * so a count is reported once and subtracted once (two flushes in flight, a 413
   * split: never twice, never negative).
   */
  readonly dropped: number;
  /** Counts `count` events as dropped (or gives back a count a body failed to report). */
  lose(count: number): void;
  /** The count to report in the next body; the queue holds zero until it is given back. */
  takeDropped(): number;
  /** JSON bytes of the queued events (approximate: UTF-16 length), kept by the queue. */
  bytes: number;
  add(event: WireEvent): void;
  /** Removes acknowledged (or refused) events. */
  remove(ids: Set<string>): void;
  /** Drops events older than maxAge, counting them. */
  expire(now: number): void;
  /** Opt-out: forgets every event, the stored record, and the records other pages left. */
  clear(): void;
  /** Writes the record now (consent was just given). */
  save(): void;
  /** Takes over the queues of pages that are gone; resolves with how many events came (never rejects). */
  adoptOrphans(): Promise<number>;
  /** The page is hidden away (pagehide): let go of the queue, so it can be adopted if the page never returns. */
  release(): void;
  /** The page is back from the back/forward cache: take the queue again, unless another page adopted it meanwhile. */
  reclaim(): void;
  /** destroy(): lets go of the lock for good and stops renewing the lease; the record stays for adoption. */
  close(): void;
}

/**
 * The page's unsent events, kept in IndexedDB until the collector acknowledged
 * them, so they survive reloads, offline periods, closed tabs and crashes.
 *
 * Each page writes only its own record (`sb_q:<queueId>`) and, where Web Locks
 * exist, holds the lock `sessionbeacon:q:<queueId>` while it is shown; it lets go
 * on pagehide, and the browser lets go for it when it crashes. A later page of the
 * site finds records whose lock is free, takes that lock (so no two pages adopt
 * the same queue), moves the events into its own queue and deletes the record. A
 * page restored from the back/forward cache takes its lock back and finds out
 * whether its record was adopted meanwhile: if so, the events are the adopter's.
 * Without Web Locks a record whose lease (renewed with every write) is older
 * than QUEUE_LEASE is taken over instead. Where IndexedDB is missing or failing,
 * or storing is not allowed (consent pending), the queue lives in memory only.
 */
export function createQueue(
  idb: AsyncArea,
  queueId: string,
  now: () => number,
  locks?: Locks,
  canStore: () => boolean = () => true,
  limits = QUEUE_LIMITS,
): Queue {
  const key = QUEUE_PREFIX + queueId;
  const lockName = (id: string) => 'sessionbeacon:q:' + id;
  let writing = false;
  let dropped = 0;
  /** destroy() ran: never take the lock again. */
  let closed = false;
  /** Our record holds our events: only then can its absence mean another page adopted them. */
  let stored = false;
  const size = (e: WireEvent) => JSON.stringify(e).length;
  /** The queue's events (`queue.events`), oldest first. */
  const events: WireEvent[] = [];

  // Written once per tick however many events were added: one IndexedDB write, not one per event.
  const save = () => {
    if (writing) return;
    writing = true;
    void Promise.resolve().then(() => {
      writing = false;
      const had = stored;
      stored = !!events.length && canStore();
      // A record never written is not deleted either: deleting opens IndexedDB (a cookieless page never does).
      return events.length ? idb.set(key, JSON.stringify({ lease: now() + QUEUE_LEASE, events } satisfies QueueRecord)) : had ? idb.del(key) : undefined;
    }).catch(() => {}); // an injected area may reject; ours never do
  };
  const drop = (count: number) => {
    for (const e of events.splice(0, count)) queue.bytes -= size(e);
    dropped += count;
  };
  /** Another page adopted our record while we were in the back/forward cache: the events are its now. */
  const adopted = async () => {
    if (stored && !(await idb.get(key))) {
      events.splice(0);
      queue.bytes = 0;
      stored = false;
    }
  };

  // Held while the page is shown: its release tells other pages this queue may be orphaned.
  // Not kept into the back/forward cache: another page requesting a lock that a cached page
  // holds makes Chromium evict that page ("weblocks-contention"), and locks.query() does not
  // even list such locks.
  let letGo: (() => void) | undefined;
  const hold = (restored: boolean) =>
    void locks
      ?.request(lockName(queueId), {}, async () => {
        if (closed) return; // destroyed while the lock was on its way
        if (restored) await adopted();
        await new Promise<void>((resolve) => (letGo = resolve));
      })
      .catch(() => {});
  // Without locks the lease must be renewed while the page lives, even with nothing new to send.
  const lease = locks ? undefined : setInterval(() => events.length && save(), QUEUE_LEASE / 3);

  const queue: Queue = {
    events,
    get dropped() {
      return dropped;
    },
    lose: (count) => void (dropped += count),
    takeDropped: () => {
      const count = dropped;
      dropped = 0;
      return count;
    },
    bytes: 0,
    add(event) {
      events.push(event);
      queue.bytes += size(event);
      // Over a limit the oldest go first; the newest event always stays.
      while (events.length > 1 && (events.length > limits.maxEvents || queue.bytes > limits.maxBytes)) drop(1);
      save();
    },
    remove(ids) {
      const kept = events.filter((e) => !ids.has(e.id));
      if (kept.length === events.length) return;
      events.splice(0, events.length, ...kept);
      queue.bytes = kept.reduce((n, e) => n + size(e), 0);
      save();
    },
    clear() {
      drop(events.length);
      dropped = 0;
      save();
      // The unsent events of pages gone (they carry the IDs) go too; keys() opens only a database that exists.
      void idb.keys().then((keys) => keys.forEach((other) => other.startsWith(QUEUE_PREFIX) && other !== key && idb.del(other)));
    },
    save,
    expire(t) {
      const old = events.filter((e) => t - e.ts > limits.maxAge);
      if (!old.length) return;
      queue.remove(new Set(old.map((e) => e.id)));
      dropped += old.length;
    },
    release: () => letGo?.(),
    close() {
      closed = true;
      clearInterval(lease);
      letGo?.();
    },
    reclaim() {
      if (locks) hold(true);
      else void adopted();
    },
    async adoptOrphans() {
      const before = events.length;
      try {
        for (const other of await idb.keys(PATIENCE)) {
          if (!other.startsWith(QUEUE_PREFIX) || other === key) continue;
          const adopt = async (lock: unknown) => {
            if (lock === null) return; // its page is alive
            const raw = await idb.get(other, PATIENCE);
            // No answer (adopted meanwhile, or IndexedDB too slow): leave it for a later look.
            if (raw === undefined) return;
            // Undefined for what is not a queue of ours: deleted below.
            const record: QueueRecord | undefined = attempt(() => JSON.parse(raw) ?? undefined);
            if (!locks && record && record.lease > now()) return;
            // Storing is not allowed (any more): an opt-out deletes such records instead.
            if (!canStore()) return;
            const have = new Set(events.map((e) => e.id));
            for (const e of Array.isArray(record?.events) ? record!.events : []) if (!have.has(e.id)) queue.add(e);
            await idb.del(other);
          };
          await (locks ? locks.request(lockName(other.slice(QUEUE_PREFIX.length)), { ifAvailable: true }, adopt) : adopt(true));
        }
      } catch {
        // IndexedDB unavailable: nothing to adopt
      }
      return events.length - before;
    },
  };
  hold(false);
  return queue;
}

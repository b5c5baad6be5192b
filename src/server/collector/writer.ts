import { Engine, type EngineOptions } from '../sessionizer/engine';
import { deviceKey, preferredCopy, type StoredEvent } from '../sessionizer/request';
import type { Database } from './database';
import { applyChanges, claimDevices, insertEvents, type DeviceClaim } from './store';

export interface WriteResult {
  /** Events stored by this request. */
  accepted: number;
  /** Events already stored (a retried beacon), acknowledged and ignored. */
  duplicates: number;
}

export interface WriterOptions extends Omit<EngineOptions, 'reload'> {
  /**
   * At most this many bytes (the engine's estimate, Engine.heldBytes) of stored
   * events and their sessions are kept in memory; the least recently written
   * devices are forgotten past it (and read back from the database when they come
   * back). Default DEFAULT_CACHE_BYTES.
   */
  cacheBytes?: number;
  /** At most this many events wait to be written; a request past it is answered 503 (default DEFAULT_QUEUE_EVENTS). */
  queueEvents?: number;
  /** The server clock, for forgetting devices idle past the horizon while no traffic comes (tests). */
  now?: () => number;
}

/**
 * Memory for devices by default: 32 MiB as the engine estimates it. V8 lets the
 * heap grow to several times what is live before it collects, so a process's
 * RSS is about three to four times (this + some 50 MB of the rest): with 32 MiB
 * a process stays well under 512 MB whatever the traffic (measured:
 * docs/scaling.md, "Memory").
 */
export const DEFAULT_CACHE_BYTES = 32 * 2 ** 20;
/** Events waiting for the database by default: at most 64 KiB requests of 250 events each are queued up to it (docs/collector.md). */
export const DEFAULT_QUEUE_EVENTS = 50_000;

/** How many requests one transaction takes at most. */
const GROUP = 256;

/** The write queue is full: the database does not keep up. A 503 with Retry-After (app.ts's error handler). */
export class Overloaded extends Error {
  readonly statusCode = 503;
}

interface Pending {
  events: StoredEvent[];
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

/**
 * The writer of one collector process: requests wait in a queue and are written
 * in groups, one transaction per group (group commit: many requests per disk
 * flush). A transaction claims the group's devices (atomic.claim_devices: their
 * rows in atomic.devices are locked until commit, so writers in other processes
 * take turns on a device, never interleave), stores the new events (duplicates
 * skipped by the primary key) and applies the session changes the engine
 * computes from them, so the session rows are always those of the stored events.
 * A request is answered once its transaction committed.
 *
 * The engine's memory is a cache, never the truth: each device in it carries the
 * version it was synced to, and the claim returns the stored version. Equal, the
 * memory is used as it is; older, the events stored since by other processes
 * are read and added; absent (forgotten, or never seen), the device is read
 * whole. So any number of processes may write one database (docs/scaling.md).
 *
 * If a group fails, its devices are dropped from memory and its requests are
 * written one by one, so one bad request cannot fail the others.
 */
export class Writer {
  private readonly queue: Pending[] = [];
  private queued = 0;
  private draining: Promise<void> | undefined;
  private readonly engine: Engine;
  private readonly cacheBytes: number;
  private readonly queueEvents: number;
  private readonly now: () => number;
  private readonly timer: ReturnType<typeof setInterval>;
  /** How the claimed devices' memory was found: as stored, behind (caught up), or missing (read whole). */
  private readonly counts = { current: 0, caughtUp: 0, loaded: 0, overloaded: 0 };

  constructor(
    private readonly db: Database,
    options: WriterOptions = {},
  ) {
    const { cacheBytes = DEFAULT_CACHE_BYTES, queueEvents = DEFAULT_QUEUE_EVENTS, now = Date.now, ...engine } = options;
    this.engine = new Engine(engine);
    this.cacheBytes = cacheBytes;
    this.queueEvents = queueEvents;
    this.now = now;
    // Idle devices are forgotten on time too, so memory is given back while no traffic comes.
    const horizon = options.horizon ?? Infinity;
    this.timer = setInterval(() => this.draining || this.tidy(), Math.min(Math.max(horizon, 1000), 60_000));
    this.timer.unref();
  }

  /** Stores one request's events; resolves once they are committed. Rejects with Overloaded when the queue is full. */
  write(events: StoredEvent[]): Promise<WriteResult> {
    // One request always fits an empty queue, whatever its size.
    if (this.queue.length && this.queued + events.length > this.queueEvents) {
      this.counts.overloaded++;
      return Promise.reject(new Overloaded(`the collector is overloaded: ${this.queued} events wait for the database`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      this.queued += events.length;
      this.draining ??= this.drain();
    });
  }

  /** Resolves when every request queued so far is written. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Writes what is queued, then stops the idle-device timer. */
  async close(): Promise<void> {
    await this.idle();
    clearInterval(this.timer);
  }

  /** Counters for /healthz: the engine's, the devices, events and estimated bytes in memory, and how claimed devices were found. */
  get stats() {
    return { ...this.engine.stats, openDevices: this.engine.openDevices, heldEvents: this.engine.heldEvents, heldBytes: this.engine.heldBytes, devices: { ...this.counts } };
  }

  private async drain(): Promise<void> {
    // `draining` is cleared in the same turn as the queue is found empty, with no await
    // between: a request queued later (say by a caller the last answer resumed) starts
    // a new drain, never waits in a queue nobody drains (a `.finally()` on this promise
    // would clear it a turn too late).
    try {
      while (this.queue.length) {
        const group = this.queue.splice(0, GROUP);
        for (const p of group) this.queued -= p.events.length;
        try {
          const results = await this.commit(group);
          group.forEach((p, i) => p.resolve(results[i]));
        } catch (error) {
          if (group.length === 1) group[0].reject(error);
          else
            for (const p of group) {
              try {
                p.resolve((await this.commit([p]))[0]);
              } catch (alone) {
                p.reject(alone);
              }
            }
        }
        this.tidy();
      }
    } finally {
      this.draining = undefined;
    }
  }

  /** Forgets idle devices and keeps memory under its cap; never while a transaction uses the engine. */
  private tidy(): void {
    this.engine.evict(this.now());
    this.engine.trim(this.cacheBytes);
  }

  private async commit(group: Pending[]): Promise<WriteResult[]> {
    // Of several copies of one event in the group, the one `sessionize` keeps (request.ts, preferredCopy).
    const copies = new Map<string, StoredEvent>();
    for (const p of group)
      for (const e of p.events) {
        const k = `${e.projectId}\u0000${e.event.id}`;
        const had = copies.get(k);
        copies.set(k, had ? preferredCopy(had, e) : e);
      }
    const offered = [...copies.values()];
    const claims = new Map<string, DeviceClaim>();
    for (const e of offered) {
      const key = deviceKey(e);
      if (!claims.has(key)) claims.set(key, { projectId: e.projectId as number, deviceId: e.event.deviceId, held: this.engine.versionOf(e.projectId, e.event.deviceId) ?? -1 });
    }
    let stored: Set<StoredEvent>;
    try {
      stored = await this.db.transaction(async (tx) => {
        const claimed = await claimDevices(tx, [...claims.values()]);
        const versions = new Map<string, number>();
        for (const [key, claim] of claims) {
          const device = claimed.get(key);
          if (!device) throw new Error(`device ${claim.deviceId} of project ${claim.projectId} was not claimed`);
          const current = claim.held === device.stored;
          const behind = !current && claim.held >= 0 && claim.held < device.stored;
          this.counts[current ? 'current' : behind ? 'caughtUp' : 'loaded']++;
          // The version this transaction gives the device; the memory holds it from now on (dropped if the transaction fails).
          this.engine.sync(claim.projectId, claim.deviceId, device.missing, device.stored + 1, current || behind ? 'held' : 'scratch');
          versions.set(key, device.stored + 1);
        }
        const fresh = await insertEvents(tx, offered, (e) => versions.get(deviceKey(e))!);
        await applyChanges(tx, this.engine.ingestEvents(fresh));
        return new Set(fresh);
      });
    } catch (error) {
      // The memory may hold what did not commit: these devices are read again next time.
      for (const claim of claims.values()) this.engine.forget(claim.projectId, claim.deviceId);
      throw error;
    }
    return group.map((p) => {
      const accepted = p.events.filter((e) => stored.has(e)).length;
      return { accepted, duplicates: p.events.length - accepted };
    });
  }
}

import { Engine, type EngineOptions } from '../sessionizer/engine';
import { partitionKey, type StoredEvent } from '../sessionizer/request';
import type { Database } from './database';
import { applyChanges, deviceEvents, insertEvents } from './store';

export interface WriteResult {
  /** Events stored by this request. */
  accepted: number;
  /** Events already stored (a retried beacon), acknowledged and ignored. */
  duplicates: number;
}

interface Pending {
  events: StoredEvent[];
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

/** How many requests one transaction takes at most. */
const GROUP = 256;
/** Forget idle devices every this many requests. */
const EVICT_EVERY = 1000;


/**
 * The writer of a database: each device's events go to one of `lanes`
 * independent lanes (by a hash of project and device), so that transactions of
 * different devices overlap on a PostgreSQL server (one waits for its commit's
 * disk flush while the next is built). A device is only ever written by its
 * lane, so each lane's engine sees all of its devices' events. A request whose
 * events span lanes (one device per request is the rule; a crafted batch may mix)
 * is answered once every part committed; if one part fails the request gets a
 * 5xx and the parts that committed are duplicates on the retry.
 */
export class Writer {
  private readonly lanes: Lane[];

  constructor(db: Database, options: Omit<EngineOptions, 'reload'> & { lanes?: number } = {}) {
    const { lanes = 1, ...engine } = options;
    this.lanes = Array.from({ length: Math.max(1, lanes) }, () => new Lane(db, engine));
  }

  /** Stores one request's events; resolves once they are committed. */
  async write(events: StoredEvent[]): Promise<WriteResult> {
    if (this.lanes.length === 1) return this.lanes[0].write(events);
    const parts = new Map<Lane, StoredEvent[]>();
    for (const e of events) {
      const lane = this.lanes[laneOf(partitionKey(e.projectId, e.event.deviceId), this.lanes.length)];
      parts.get(lane)?.push(e) ?? parts.set(lane, [e]);
    }
    const results = await Promise.all([...parts].map(([lane, part]) => lane.write(part)));
    return results.reduce((sum, r) => ({ accepted: sum.accepted + r.accepted, duplicates: sum.duplicates + r.duplicates }), { accepted: 0, duplicates: 0 });
  }

  /** Resolves when every request queued so far is written. */
  async idle(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.idle()));
  }

  /** The engines' counters, summed over the lanes. */
  get stats(): Record<string, number> {
    const total: Record<string, number> = { lanes: this.lanes.length };
    for (const lane of this.lanes) for (const [name, value] of Object.entries(lane.stats)) total[name] = (total[name] ?? 0) + value;
    return total;
  }
}

/** FNV-1a of the partition key: a device's lane, stable for the life of the process. */
function laneOf(key: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}

/**
 * One lane: requests wait in a queue and are written in groups, one transaction
 * per group (group commit: many requests per disk flush). A transaction stores
 * the new events (duplicates skipped by the primary key) and applies the session
 * changes the engine computes from them, so the session rows are always those of
 * the stored events. A request is answered once its transaction committed.
 *
 * If a group fails, its devices are dropped from the engine (reloaded from the
 * database next time) and its requests are written one by one, so one bad
 * request cannot fail the others. The engine trusts that nobody else writes its
 * devices' events: one collector process per database.
 */
class Lane {
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private readonly engine: Engine;
  /** Stored events of the devices the engine is about to reload, read in the same transaction. */
  private reloads = new Map<string, StoredEvent[]>();
  private sinceEvict = 0;

  constructor(
    private readonly db: Database,
    options: Omit<EngineOptions, 'reload'> = {},
  ) {
    this.engine = new Engine({ ...options, reload: (projectId, deviceId) => this.reloads.get(partitionKey(projectId, deviceId)) ?? [] });
  }

  /** Stores one request's events; resolves once they are committed. */
  write(events: StoredEvent[]): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      this.draining ??= this.drain().finally(() => (this.draining = undefined));
    });
  }

  /** Resolves when every request queued so far is written. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  get stats() {
    return { ...this.engine.stats, openDevices: this.engine.openDevices };
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const group = this.queue.splice(0, GROUP);
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
      if ((this.sinceEvict += group.length) >= EVICT_EVERY) {
        this.sinceEvict = 0;
        this.engine.evict();
      }
    }
  }

  private async commit(group: Pending[]): Promise<WriteResult[]> {
    // The first copy of an event in the group is the one offered for storage.
    const seen = new Set<string>();
    const offered: StoredEvent[] = [];
    for (const p of group)
      for (const e of p.events) {
        const k = `${e.projectId}\u0000${e.event.id}`;
        if (!seen.has(k)) {
          seen.add(k);
          offered.push(e);
        }
      }
    const forgotten = new Map<number | string, Set<string>>();
    for (const e of offered)
      if (!this.engine.isOpen(e.projectId, e.event.deviceId)) {
        const ids = forgotten.get(e.projectId) ?? forgotten.set(e.projectId, new Set()).get(e.projectId)!;
        ids.add(e.event.deviceId);
      }
    let stored: Set<StoredEvent>;
    try {
      stored = await this.db.transaction(async (tx) => {
        this.reloads = new Map();
        for (const [projectId, ids] of forgotten)
          for (const e of await deviceEvents(tx, projectId as number, [...ids])) {
            const k = partitionKey(projectId, e.event.deviceId);
            this.reloads.get(k)?.push(e) ?? this.reloads.set(k, [e]);
          }
        const fresh = await insertEvents(tx, offered);
        await applyChanges(tx, this.engine.ingestEvents(fresh));
        return new Set(fresh);
      });
    } catch (error) {
      // The engine may hold what did not commit: it rereads these devices next time.
      for (const e of offered) this.engine.forget(e.projectId, e.event.deviceId);
      throw error;
    } finally {
      this.reloads = new Map();
    }
    return group.map((p) => {
      const accepted = p.events.filter((e) => stored.has(e)).length;
      return { accepted, duplicates: p.events.length - accepted };
    });
  }
}

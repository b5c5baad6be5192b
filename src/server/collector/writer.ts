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
 * The one writer of a database: requests wait in a queue and are written in
 * groups, one transaction per group (group commit: many requests per disk
 * flush). A transaction stores the new events (duplicates skipped by the
 * primary key) and applies the session changes the engine computes from them,
 * so the session rows are always those of the stored events. A request is
 * answered once its transaction committed.
 *
 * If a group fails, its devices are dropped from the engine (reloaded from the
 * database next time) and its requests are written one by one, so one bad
 * request cannot fail the others. One writer per database: the engine trusts
 * that nobody else adds events.
 */
export class Writer {
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

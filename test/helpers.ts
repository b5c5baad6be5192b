import { vi } from 'vitest';
import { expandEvents, type Batch, type WireEvent } from '../src/protocol';
import type { Channel } from '../src/client/tab';
import type { Answer } from '../src/client/transport';
import type { TrackerEnv } from '../src/client/env';
import type { AsyncArea, StorageAreas, SyncArea } from '../src/client/storage';
import type { Locks } from '../src/client/locks';

/** A Map that counts writes, as a storage area. `broken` makes every call throw, like blocked storage. */
export function memoryArea(map = new Map<string, string>(), canStore: () => boolean = () => true) {
  const area = {
    map,
    writes: 0,
    broken: false,
    get(key: string) {
      if (area.broken) throw new DOMException('blocked', 'SecurityError');
      return map.get(key) ?? null;
    },
    set(key: string, value: string) {
      if (area.broken) throw new DOMException('blocked', 'SecurityError');
      if (!canStore()) return;
      area.writes++;
      map.set(key, value);
    },
    del(key: string) {
      map.delete(key);
    },
  };
  return area satisfies SyncArea;
}

export function memoryAsyncArea(map = new Map<string, string>()): AsyncArea & { map: Map<string, string> } {
  return {
    map,
    get: async (key) => map.get(key),
    set: async (key, value) => void map.set(key, value),
    del: async (key) => void map.delete(key),
    keys: async () => [...map.keys()],
  };
}

/** What one browser profile shares between its tabs: cookies, localStorage, IndexedDB. */
export interface Browser {
  cookie: Map<string, string>;
  local: Map<string, string>;
  idb: Map<string, string>;
}

export const newBrowser = (): Browser => ({ cookie: new Map(), local: new Map(), idb: new Map() });

/** Storage for one tab of `browser`: its own sessionStorage, the browser's other areas. Respects canStore like the real areas. */
export function tabStorage(browser: Browser, session = new Map<string, string>()) {
  return (canStore: () => boolean): StorageAreas => {
    const idb = memoryAsyncArea(browser.idb);
    return {
      cookie: memoryArea(browser.cookie, canStore),
      local: memoryArea(browser.local, canStore),
      session: memoryArea(session, canStore),
      idb: { ...idb, set: (k, v) => (canStore() ? idb.set(k, v) : Promise.resolve()) },
    };
  };
}

/** Deterministic ids: id1, id2, ... (shared counter so two tabs never collide). */
export function idSequence(prefix = 'id') {
  let n = 0;
  return () => `${prefix}${++n}`;
}

/** A BroadcastChannel stand-in: every channel made by one bus hears the others, asynchronously. */
export function channelBus() {
  const members = new Set<Channel>();
  return (): Channel => {
    const channel: Channel = {
      onmessage: null,
      postMessage(message) {
        for (const other of members) if (other !== channel) setTimeout(() => other.onmessage?.({ data: message } as MessageEvent));
      },
      close() {
        members.delete(channel);
      },
    };
    members.add(channel);
    return channel;
  };
}

/**
 * Web Locks stand-in: callbacks of one name run one at a time, in request order;
 * with ifAvailable a held name gives the callback null at once. `release(name)`
 * frees a lock held forever (a page that closed).
 */
export function serialLocks(): Locks & { requests: number; held: Set<string> } {
  const tails = new Map<string, Promise<unknown>>();
  const held = new Set<string>();
  const locks = {
    requests: 0,
    held,
    request<T>(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => T | Promise<T>): Promise<T> {
      locks.requests++;
      if (options.ifAvailable && held.has(name)) return Promise.resolve(callback(null));
      // A lock freed with held.delete (its page closed) is free at once, whatever its old holder's promise does.
      // Checking and taking an available lock is one step, as in the real API.
      if (options.ifAvailable) held.add(name);
      const run = (options.ifAvailable ? Promise.resolve() : tails.get(name) ?? Promise.resolve()).then(async () => {
        held.add(name);
        try {
          return await callback({ name });
        } finally {
          held.delete(name);
        }
      });
      tails.set(name, run.catch(() => undefined));
      return run;
    },
  };
  return locks;
}

/**
 * A transport that records every batch the collector accepted. `answers` scripts
 * the next answers (status, Retry-After); after them, `status` answers (204 by
 * default); `fail = true` answers as an unreachable collector (status 0).
 */
export function recordingTransport() {
  const batches: Batch[] = [];
  const t = {
    batches,
    /** Every attempt, accepted or not, in order. */
    attempts: [] as { body: Batch; leaving: boolean; status: number }[],
    answers: [] as Answer[],
    status: 204,
    fail: false,
    leaving: [] as boolean[],
    get events(): WireEvent[] {
      return batches.flatMap((b) => expandEvents(b));
    },
    send: (_url: string, body: string, leaving: boolean): Promise<Answer> => {
      t.leaving.push(leaving);
      const answer = t.answers.shift() ?? { status: t.fail ? 0 : t.status };
      const parsed = JSON.parse(body) as Batch;
      t.attempts.push({ body: parsed, leaving, status: answer.status });
      if (answer.status >= 200 && answer.status < 300) batches.push(parsed);
      return Promise.resolve(answer);
    },
  };
  return t;
}

export function testEnv(overrides: Partial<TrackerEnv> & { browser?: Browser; session?: Map<string, string> } = {}) {
  const transport = recordingTransport();
  const { browser = newBrowser(), session, ...rest } = overrides;
  const env: TrackerEnv = {
    window,
    now: () => Date.now(),
    newId: idSequence(),
    transport: transport.send,
    storage: tabStorage(browser, session),
    locks: undefined,
    channel: () => undefined,
    ...rest,
  };
  return { env, transport, browser };
}

export function setVisibility(state: 'visible' | 'hidden') {
  Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
}

/** Lets promises and zero-delay timers run (fake timers). */
export const settle = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

export const byType = (events: WireEvent[], type: WireEvent['type']) => events.filter((e) => e.type === type);

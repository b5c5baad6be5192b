import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WireEvent } from '../../protocol';
import { cookielessGroup, isCookieless } from '../sessionizer/cookieless';
import type { ReceivedRequest } from '../sessionizer/request';

/**
 * The temporary files of `sessionize` when its input does not fit its memory
 * budget: every request goes, as an NDJSON line, to the partition of its device
 * (a hash of (projectId, deviceId); of (projectId, IP, User-Agent) for a
 * cookieless request, whose device is derived from those). A request with
 * events of several devices is split into one request per device, each with
 * the same receivedAt, headers and batch fields: the sessionizer reads each
 * event with its own request's fields, so the split changes no row. Each
 * partition then holds every event of its devices, and sessionizing the
 * partitions one at a time gives the rows of the whole (model.md rule 3:
 * devices never share a visit).
 */
export class Partitions {
  private readonly fds: number[] = [];
  private readonly buffers: string[] = [];
  readonly paths: string[] = [];
  /** Bytes written to each partition. */
  readonly sizes: number[] = [];

  /** `count` files in `dir` named `<prefix>-<i>.ndjson`; `seed` picks the hash (each level of re-partitioning its own). */
  constructor(dir: string, prefix: string, readonly count: number, private readonly seed: number) {
    for (let i = 0; i < count; i++) {
      const path = join(dir, `${prefix}-${i}.ndjson`);
      this.paths.push(path);
      this.fds.push(openSync(path, 'w'));
      this.buffers.push('');
      this.sizes.push(0);
    }
  }

  /** Adds a request; `text` is its line as read (written as it is when the request goes whole to one partition). */
  add(request: ReceivedRequest, text?: string): void {
    const parts = devicesOf(request);
    if (parts.length === 1) return this.put(parts[0][0], text ?? JSON.stringify(request));
    for (const [key, part] of parts) this.put(key, JSON.stringify(part));
  }

  private put(key: string, line: string): void {
    const i = hash(key, this.seed) % this.count;
    this.buffers[i] += line + '\n';
    if (this.buffers[i].length >= 1 << 16) this.flushOne(i);
  }

  private flushOne(i: number): void {
    if (!this.buffers[i]) return;
    const bytes = Buffer.from(this.buffers[i]);
    writeSync(this.fds[i], bytes);
    this.sizes[i] += bytes.length;
    this.buffers[i] = '';
  }

  /** Writes what is buffered and closes the files. */
  close(): void {
    for (let i = 0; i < this.count; i++) {
      this.flushOne(i);
      closeSync(this.fds[i]);
    }
  }
}

/**
 * A request as the requests of one device each, with the key of that device:
 * (projectId, deviceId), or for a cookieless request (projectId, IP, User-Agent),
 * from which its device is derived. Mostly the request itself, alone.
 */
export function devicesOf(request: ReceivedRequest): [key: string, request: ReceivedRequest][] {
  if (isCookieless(request)) return [[cookielessGroup(request), request]];
  const project = String(request.body.projectId ?? 0);
  const shared = request.body.deviceId;
  const events = request.body.events as WireEvent[];
  const first = events.length ? (events[0].deviceId ?? shared) : shared;
  let one = true;
  for (let i = 1; i < events.length && one; i++) one = (events[i].deviceId ?? shared) === first;
  if (one) return [[project + '\u0000' + first, request]];
  const byDevice = new Map<string, WireEvent[]>();
  for (const e of events) {
    const d = e.deviceId ?? shared;
    byDevice.get(d)?.push(e) ?? byDevice.set(d, [e]);
  }
  return [...byDevice].map(([deviceId, list]) => [project + '\u0000' + deviceId, { ...request, body: { ...request.body, events: list } }]);
}

/** FNV-1a over UTF-16 code units, with a seed: fast, and spread enough for partitions. */
export function hash(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  return Math.imul(h, 0x45d9f3b) >>> 0;
}

/**
 * A temporary folder of this run (in `parent`, else the system's), removed by
 * `remove()`, also when the process ends on SIGINT, SIGTERM or SIGHUP meanwhile, or exits any other way.
 */
export function temporaryFolder(parent?: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(parent ?? tmpdir(), 'sessionbeacon-sessionize-'));
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals) => {
    try {
      remove();
    } catch {
      // Exit with the signal's code all the same.
    }
    // The usual exit code of a process ended by that signal.
    process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[signal]);
  };
  let removed = false;
  function remove() {
    if (removed) return;
    removed = true;
    for (const s of signals) process.off(s, onSignal);
    process.off('exit', onExit);
    // Worker threads (--jobs) may still be writing in it at a signal: retried until it is gone; never a throw from a signal handler.
    try {
      rmSync(path, { recursive: true, force: true, maxRetries: 20, retryDelay: 5 });
    } catch {
      rmSync(path, { recursive: true, force: true, maxRetries: 20, retryDelay: 20 });
    }
  }
  // And whatever else ends the process first (an uncaught error): the files hold raw requests, IPs included.
  const onExit = () => {
    try {
      remove();
    } catch {
      // nothing more can be done at exit
    }
  };
  for (const s of signals) process.on(s, onSignal);
  process.on('exit', onExit);
  return { path, remove };
}

import { sessionizeSorted, type Disagreements, type RowCache, type SessionizeOptions } from './device';
import { byEventOrder, deviceKey, eventKey, partitionKey, preferredCopy, storedEvents, type ReceivedRequest, type StoredEvent } from './request';
import type { SessionRow } from './row';

/** The primary key of atomic.session: (projectId, sessionStart, sessionId). */
export const rowKey = (r: Pick<SessionRow, 'projectId' | 'sessionStart' | 'sessionId'>): string =>
  `${r.projectId}\u0000${r.sessionStart}\u0000${r.sessionId}`;

/** A change to atomic.session. A delete names the row by primary key, and its device (a store may check it: see docs/collector.md). */
export type Change =
  | { op: 'upsert'; row: SessionRow }
  | { op: 'delete'; key: { projectId: number | string; sessionStart: string; sessionId: string; deviceId: string | null } };

export interface EngineOptions extends SessionizeOptions {
  /**
   * How long a device stays in memory after its last event, measured against the
   * newest receivedAt seen (the watermark), ms. Default Infinity (nothing is
   * forgotten). An event for a forgotten device is sessionized again with the
   * events `reload` gives back (the collector reads them from its database);
   * without `reload`, only with the events that came after.
   */
  horizon?: number;
  /** Events already stored for a device the engine forgot. */
  reload?: (projectId: number | string, deviceId: string) => StoredEvent[];
  /** projectId for requests without one. */
  defaultProject?: number | string;
}

interface DeviceState {
  events: Map<string, StoredEvent>;
  /** The same events in rule-4 order, kept so as they come (mostly appended): no sort per request. */
  sorted: StoredEvent[];
  rows: Map<string, SessionRow>;
  cache: RowCache;
  lastSeen: number;
  disagreements: Disagreements;
  /** The stored version these events are (a collector's atomic.devices.version), if the owner set one. */
  version?: number;
  /** Estimated heap bytes of its events (eventBytes). */
  eventBytes: number;
}

/**
 * What the engine's memory costs, estimated: a device's state, each session row
 * (some 70 columns) with its cache entry, and each event (its object, its share
 * of its request, its places in the maps) plus its own content. Calibrated on
 * V8 with SDK-shaped events: the heap measured was 0.96 to 1.15 times the
 * estimate for one to 40 events per device, and 0.56 to 0.70 times it for events
 * carrying kilobytes of properties (the cap errs on the low side). The load
 * benchmark's memory run (bench/collector-load.mjs --memory) measures the RSS.
 */
const DEVICE_BYTES = 900;
const ROW_BYTES = 1_700;
const EVENT_BYTES = 200;

/** An event's estimated heap bytes: its strings, and nested objects (properties, traits) by their JSON. */
function eventBytes(e: StoredEvent): number {
  let n = EVENT_BYTES;
  for (const key in e.event) {
    const value = (e.event as unknown as Record<string, unknown>)[key];
    n += key.length + (typeof value === 'string' ? value.length : value && typeof value === 'object' ? 2 * JSON.stringify(value).length : 8);
  }
  return n;
}

/**
 * The incremental sessionizer. Events come in any order and any batching;
 * after each request it yields the changes to atomic.session (upserts and
 * deletes by primary key) that make the table equal to what a batch run over
 * every event so far gives: a late event may extend a visit, start one, or bridge
 * two visits into one (the later row is deleted; the merged row keeps the
 * earlier IDs). It works device by device: a request re-sessionizes only the
 * devices it touches, from their events in memory.
 */
export class Engine {
  /** The devices in memory, least recently used first (a Map keeps insertion order; a use moves a device to the end). */
  private readonly devices = new Map<string, DeviceState>();
  private watermark = -Infinity;
  /** Events held in memory, over all devices, and their estimated heap bytes with their devices' (what `trim` caps). */
  private held = 0;
  private bytes = 0;
  /** Events received, duplicates ignored, devices forgotten (idle or over a cap) and reloaded. */
  readonly stats = { events: 0, duplicates: 0, evicted: 0, reloaded: 0 };

  constructor(private readonly options: EngineOptions = {}) {}

  /** Takes one request; returns the changes to atomic.session. */
  ingest(request: ReceivedRequest): Change[] {
    return this.ingestEvents(storedEvents(request, this.options.defaultProject));
  }

  ingestEvents(events: StoredEvent[]): Change[] {
    const touched = new Set<string>();
    for (const e of events) {
      this.stats.events++;
      if (e.request.receivedAt > this.watermark) this.watermark = e.request.receivedAt;
      const key = deviceKey(e);
      let device = touched.has(key) ? this.devices.get(key) : this.use(key);
      if (!device) {
        device = this.open(key);
        const earlier = this.options.reload?.(e.projectId, e.event.deviceId);
        if (earlier?.length) {
          this.stats.reloaded++;
          for (const old of earlier) this.keep(device, old);
          this.settle(device);
        }
      }
      if (this.keep(device, e)) touched.add(key);
      else this.stats.duplicates++;
      device.lastSeen = Math.max(device.lastSeen, e.request.receivedAt);
    }
    const changes: Change[] = [];
    for (const key of touched) changes.push(...this.resessionize(this.devices.get(key)!));
    return changes;
  }

  /** Keeps the preferred copy of an event (rule 1); true if the device's events changed. */
  private keep(device: DeviceState, e: StoredEvent): boolean {
    const key = eventKey(e);
    const had = device.events.get(key);
    const keep = had ? preferredCopy(had, e) : e;
    if (keep === had) return false;
    device.events.set(key, keep);
    if (!had) this.held++;
    const delta = eventBytes(keep) - (had ? eventBytes(had) : 0);
    device.eventBytes += delta;
    this.bytes += delta;
    if (had) device.sorted.splice(position(device.sorted, had), 1);
    device.sorted.splice(position(device.sorted, keep), 0, keep);
    return true;
  }

  private resessionize(device: DeviceState): Change[] {
    const { rows, disagreements } = sessionizeSorted(device.sorted, this.options, device.cache);
    device.disagreements = disagreements;
    const next = new Map(rows.map((r) => [rowKey(r), r]));
    const changes: Change[] = [];
    for (const [key, old] of device.rows)
      if (!next.has(key)) changes.push({ op: 'delete', key: { projectId: old.projectId, sessionStart: old.sessionStart, sessionId: old.sessionId, deviceId: old.deviceId } });
    for (const [key, row] of next) {
      const old = device.rows.get(key);
      // An unchanged session's row comes back from the cache as the same object; a rebuilt
      // one had a change in its events' copies, so it is written.
      if (old !== row) changes.push({ op: 'upsert', row });
    }
    this.bytes += (next.size - device.rows.size) * ROW_BYTES;
    device.rows = next;
    return changes;
  }

  /**
   * Forgets the devices idle for longer than the horizon (their rows are final
   * unless a later event reopens them) and returns their rows. Idle is measured
   * against the newest receivedAt seen, or `now` when that is later: a caller
   * with a clock (the collector) frees memory while no traffic comes.
   */
  evict(now = -Infinity): SessionRow[] {
    if (now > this.watermark) this.watermark = now;
    const horizon = this.options.horizon ?? Infinity;
    const done: SessionRow[] = [];
    for (const [key, device] of this.devices) {
      if (device.lastSeen < this.watermark - horizon) {
        done.push(...device.rows.values());
        this.drop(key, device);
        this.stats.evicted++;
      }
    }
    return done;
  }

  /**
   * Forgets the least recently used devices until what is held is estimated at
   * `maxBytes` or less (`heldBytes`): a cap on memory, for a caller that can reload
   * a forgotten device from its store (the collector). Their rows are not
   * returned: they may not be final. Returns how many devices were forgotten.
   */
  trim(maxBytes: number): number {
    let forgotten = 0;
    for (const [key, device] of this.devices) {
      if (this.bytes <= maxBytes) break;
      this.drop(key, device);
      this.stats.evicted++;
      forgotten++;
    }
    return forgotten;
  }

  /** Whether a device is in memory (else its next event makes the engine call `reload`). */
  isOpen(projectId: number | string, deviceId: string): boolean {
    return this.devices.has(partitionKey(projectId, deviceId));
  }

  /** The version a device in memory was last synced to (`sync`); undefined when it is not in memory or has none. */
  versionOf(projectId: number | string, deviceId: string): number | undefined {
    return this.devices.get(partitionKey(projectId, deviceId))?.version;
  }

  /**
   * Brings a device in memory to a stored state, for a store that several
   * writers share (the collector: docs/scaling.md). `stored` are the device's
   * stored events this engine does not hold: all of them when `from` is
   * 'scratch' (the memory is dropped first), those stored since its version when
   * 'held'. The device then holds `version`, and its rows are taken to be what
   * is stored for it (they are what any writer computed from these events), so
   * the next `ingestEvents` yields the changes from those rows. No changes are
   * returned.
   */
  sync(projectId: number | string, deviceId: string, stored: StoredEvent[], version: number, from: 'held' | 'scratch'): void {
    const key = partitionKey(projectId, deviceId);
    let device: DeviceState | undefined;
    if (from === 'held') {
      device = this.use(key);
      if (!device) throw new Error(`sync: device ${deviceId} of project ${projectId} is not in memory`);
    } else {
      const had = this.devices.get(key);
      if (had) this.drop(key, had);
      device = this.open(key);
    }
    let changed = from === 'scratch';
    for (const e of stored) {
      changed = this.keep(device, e) || changed;
      device.lastSeen = Math.max(device.lastSeen, e.request.receivedAt);
    }
    if (stored.length) this.stats.reloaded++;
    if (changed) this.settle(device);
    device.version = version;
  }

  /**
   * Drops a device from memory without returning its rows: for a caller whose
   * write of the device's changes failed, so that the next event reloads it from
   * what was stored.
   */
  forget(projectId: number | string, deviceId: string): void {
    const key = partitionKey(projectId, deviceId);
    const device = this.devices.get(key);
    if (device) this.drop(key, device);
  }

  /** Events held in memory, over all devices. */
  get heldEvents(): number {
    return this.held;
  }

  /** The estimated heap bytes of the devices in memory (what `trim` caps). */
  get heldBytes(): number {
    return this.bytes;
  }

  private open(key: string): DeviceState {
    const device: DeviceState = { events: new Map(), sorted: [], rows: new Map(), cache: new Map(), lastSeen: -Infinity, disagreements: { visitsMerged: 0, visitsSplit: 0 }, eventBytes: 0 };
    this.bytes += DEVICE_BYTES;
    this.devices.set(key, device);
    return device;
  }

  /** A device in memory, moved to the most recently used end. */
  private use(key: string): DeviceState | undefined {
    const device = this.devices.get(key);
    if (device) {
      this.devices.delete(key);
      this.devices.set(key, device);
    }
    return device;
  }

  private drop(key: string, device: DeviceState): void {
    this.devices.delete(key);
    this.held -= device.events.size;
    this.bytes -= DEVICE_BYTES + device.eventBytes + device.rows.size * ROW_BYTES;
  }

  /** Takes the rows of a device's events as its current rows, without changes (they are what is stored). */
  private settle(device: DeviceState): void {
    const { rows, disagreements } = sessionizeSorted(device.sorted, this.options, device.cache);
    const next = new Map(rows.map((r) => [rowKey(r), r]));
    this.bytes += (next.size - device.rows.size) * ROW_BYTES;
    device.rows = next;
    device.disagreements = disagreements;
  }

  /** Every row of the devices in memory. */
  rows(): SessionRow[] {
    return [...this.devices.values()].flatMap((d) => [...d.rows.values()]);
  }

  /** Disagreements between the client's and the server's grouping (rule 6), over the devices in memory. */
  disagreements(): Disagreements {
    const total = { visitsMerged: 0, visitsSplit: 0 };
    for (const d of this.devices.values()) {
      total.visitsMerged += d.disagreements.visitsMerged;
      total.visitsSplit += d.disagreements.visitsSplit;
    }
    return total;
  }

  get openDevices(): number {
    return this.devices.size;
  }
}

/**
 * Where `e` is or belongs in events sorted by rule 4 (a total order: event ids
 * are unique within a device). Events mostly come in order: the end is tried first.
 */
function position(sorted: StoredEvent[], e: StoredEvent): number {
  let high = sorted.length;
  if (high === 0 || byEventOrder(sorted[high - 1], e) < 0) return high;
  let low = 0;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (byEventOrder(sorted[mid], e) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { expandEvents, type Batch, type WireEvent } from '../../protocol';
import type { ReceivedRequest } from './request';

/**
 * Cookieless requests (docs/privacy.md, docs/collector.md "Cookieless mode"): a
 * batch that says `"cookieless": true` carries no deviceId, anonymousId, visitId
 * or sessionId. Its device is derived from the request: a keyed hash of
 * (projectId, IP, User-Agent) under a salt of the UTC day, and its events get the
 * IDs the sessionizer needs, so that no sessionizer rule changes:
 *
 * - deviceId and anonymousId: the derived device;
 * - tabId: the device too, so that all its events are one tab and a visit is
 *   one session (a page load cannot be told from a new tab without storage);
 * - visitId and sessionId: a hash of (device, event id). The row takes them from
 *   its first event, so they depend only on the set of events (rule 7).
 *
 * The rules here are pure: the collector (../collector/cookieless.ts) keeps the
 * salts in its database, the offline `sessionize` takes them as options
 * (`CookielessRequests`). Both decide alike, so their rows are equal.
 */

/** What a cookieless session row carries in `tags`. */
export const COOKIELESS_TAG = 'cookieless';

/**
 * How long after UTC midnight the previous day's salt is still used: a visit open
 * at midnight goes on with the previous day's device until then. The salt is
 * deleted at that moment (docs/privacy.md).
 */
export const SALT_GRACE = 2 * 3_600_000;

const DAY = 86_400_000;

/** The UTC day of an epoch ms, "YYYY-MM-DD". */
export const utcDay = (t: number): string => new Date(t).toISOString().slice(0, 10);

/**
 * The salts a request received at `t` may use: its UTC day's, and, in the first
 * SALT_GRACE after midnight, the previous day's.
 */
export function saltDays(t: number): { current: string; previous?: string } {
  const midnight = Math.floor(t / DAY) * DAY;
  const current = utcDay(t);
  return t - midnight < SALT_GRACE ? { current, previous: utcDay(midnight - DAY) } : { current };
}

/** The oldest day whose salt may still be used at `t`: every older salt is deleted. */
export function oldestUsableDay(t: number): string {
  const days = saltDays(t);
  return days.previous ?? days.current;
}

/** Whether a request at `t` may decide a later request's device: within `inactivity` before a midnight, or in a salt's grace. */
function nearMidnight(t: number, inactivity: number): boolean {
  const sinceMidnight = t - Math.floor(t / DAY) * DAY;
  return sinceMidnight < SALT_GRACE || sinceMidnight >= DAY - inactivity;
}

/** An IPv4 address the way every listener gives it ("::ffff:1.2.3.4" is 1.2.3.4), IPv6 in lower case. */
const normalIp = (ip: string | undefined): string => (ip ?? '').toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

/**
 * The derived device: HMAC-SHA-256 under the day's salt of (projectId, IP,
 * User-Agent), its first 128 bits in base64url (22 characters). Without the salt
 * it cannot be recomputed from an IP and a User-Agent.
 */
export function cookielessDeviceId(salt: Uint8Array, projectId: number | string, ip: string | undefined, userAgent: string | undefined): string {
  // JSON: no two different inputs give the same bytes.
  return createHmac('sha256', salt)
    .update(JSON.stringify([String(projectId), normalIp(ip), userAgent ?? '']))
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

/** A cookieless event with the IDs of its derived device (see above). */
export function cookielessEvent(event: WireEvent, deviceId: string): WireEvent {
  const sessionId = createHash('sha256').update(`${deviceId}\n${event.id}`).digest().subarray(0, 16).toString('base64url');
  return { ...event, deviceId, anonymousId: deviceId, visitId: sessionId, sessionId, tabId: deviceId };
}

/**
 * What a cookieless request's device is decided from: (projectId, IP, User-Agent).
 * Requests of different groups never share a device nor decide each other's
 * (the midnight rule looks only at the same group's previous-day device), so a
 * partition of the input by group (`sessionize`'s spill) decides as the whole does.
 */
export const cookielessGroup = (request: ReceivedRequest): string =>
  JSON.stringify([String(request.body.projectId ?? 0), normalIp(request.ip), request.userAgent ?? '']);

/** Whether a received request is a cookieless batch. */
export const isCookieless = (request: ReceivedRequest): boolean => request.body?.cookieless === true;

/**
 * The request with its device filled in: the events with their IDs, the IDs
 * shared at the batch's top put back into them, and no IP (a cookieless request's
 * IP is never stored, not even truncated).
 */
export function filledRequest(request: ReceivedRequest, deviceId: string): ReceivedRequest {
  const { ip: _ip, ...rest } = request;
  const { tabId: _tab, pageId: _page, ...body } = request.body;
  return { ...rest, body: { ...body, events: expandEvents(request.body).map((e) => cookielessEvent(e, deviceId)) } as Batch };
}

/** Each UTC day's salt, the same for every call with that day. */
export type SaltOf = (day: string) => Uint8Array;

/**
 * The salts of an offline run: the ones given (day -> 64 hex digits, as
 * `sessionize --salt DAY=HEX` takes them), and for every other day a random
 * salt made for this run only. Device IDs are those of the collector only for
 * the days whose salt is given.
 */
export function saltsOf(given: Readonly<Record<string, string>> = {}): SaltOf {
  const made = new Map<string, Uint8Array>(Object.entries(given).map(([day, hex]) => [day, Buffer.from(hex, 'hex')]));
  return (day) => made.get(day) ?? made.set(day, randomBytes(32)).get(day)!;
}

/** "2026-12-01=<64 hex digits>" -> ["2026-12-01", hex]; throws on anything else. */
export function parseSalt(text: string | undefined): [day: string, hex: string] {
  const m = /^(\d{4}-\d{2}-\d{2})=([0-9a-fA-F]{64})$/.exec(text ?? '');
  if (!m || utcDay(Date.parse(`${m[1]}T00:00:00Z`) || 0) !== m[1]) throw new Error(`not a salt: ${text} (use DAY=HEX, e.g. 2026-12-01= and 64 hex digits)`);
  return [m[1], m[2].toLowerCase()];
}

export interface CookielessOptions {
  salt: SaltOf;
  /** The visit timeout (ms), as the sessionizer's. */
  inactivity: number;
  /**
   * How far the input may be out of order, by receivedAt (ms): a request in a
   * salt's grace waits until one received this much later was taken (or
   * `flush`), since earlier requests decide its device. Infinity: all wait.
   */
  disorder: number;
}

/**
 * The devices of cookieless requests, decided as the collector decides them
 * (../collector/cookieless.ts), for `sessionize` and its command: over the same
 * requests and salts, the same devices, whatever the order of the input (within
 * `disorder`).
 *
 * The midnight rule: a request received in the first SALT_GRACE of a UTC day
 * takes the previous day's device when that device has an event received less
 * than `inactivity` before it (its visit is open), else the day's device. An
 * event counts with the receivedAt of its first copy, which is the one the
 * collector stores.
 */
export class CookielessRequests {
  /** Requests in a salt's grace, waiting for the requests received before them: by receivedAt from `head` on. */
  private held: ReceivedRequest[] = [];
  private head = 0;
  /** Near midnight: device -> event id -> receivedAt of its first copy. */
  private seen = new Map<string, Map<string, number>>();
  private watermark = -Infinity;
  private sincePrune = 0;

  constructor(private readonly options: CookielessOptions) {}

  /** Takes one request; returns those ready to sessionize: it (filled, or as it is if not cookieless) and any it released. */
  take(request: ReceivedRequest): ReceivedRequest[] {
    if (!isCookieless(request)) return [request];
    if (request.receivedAt > this.watermark) this.watermark = request.receivedAt;
    const out: ReceivedRequest[] = [];
    if (saltDays(request.receivedAt).previous) this.hold(request);
    else out.push(this.decide(request));
    out.push(...this.release(this.watermark - this.options.disorder));
    return out;
  }

  /** Every request still waiting, decided: at the end of the input. */
  flush(): ReceivedRequest[] {
    return this.release(Infinity);
  }

  /** Into the held requests, in receivedAt order (mostly at the end: the input is mostly in order). */
  private hold(request: ReceivedRequest): void {
    let low = this.head;
    let high = this.held.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.held[mid].receivedAt <= request.receivedAt) low = mid + 1;
      else high = mid;
    }
    this.held.splice(low, 0, request);
  }

  /** Decides the held requests received up to `upTo`, oldest first: each decision may rest on the ones before it. */
  private release(upTo: number): ReceivedRequest[] {
    let end = this.head;
    while (end < this.held.length && this.held[end].receivedAt <= upTo) end++;
    if (end === this.head) return [];
    const out: ReceivedRequest[] = [];
    for (let i = this.head; i < end; i++) out.push(this.decide(this.held[i]));
    this.head = end;
    if (this.head > 1024 && this.head * 2 > this.held.length) {
      this.held = this.held.slice(this.head);
      this.head = 0;
    }
    if ((this.sincePrune += out.length) >= 10_000) this.prune();
    return out;
  }

  private decide(request: ReceivedRequest): ReceivedRequest {
    const { salt, inactivity } = this.options;
    const t = request.receivedAt;
    const projectId = request.body.projectId ?? 0;
    const days = saltDays(t);
    let deviceId = cookielessDeviceId(salt(days.current), projectId, request.ip, request.userAgent);
    if (days.previous) {
      const previous = cookielessDeviceId(salt(days.previous), projectId, request.ip, request.userAgent);
      if (this.openAt(`${projectId}\u0000${previous}`, t)) deviceId = previous;
    }
    if (nearMidnight(t, inactivity)) {
      const key = `${projectId}\u0000${deviceId}`;
      const events = this.seen.get(key) ?? this.seen.set(key, new Map()).get(key)!;
      for (const e of request.body.events) {
        const had = events.get(e.id);
        if (had === undefined || t < had) events.set(e.id, t);
      }
    }
    return filledRequest(request, deviceId);
  }

  /** Whether a device has an event received in [t - inactivity, t). */
  private openAt(key: string, t: number): boolean {
    const events = this.seen.get(key);
    if (events) for (const at of events.values()) if (at < t && at >= t - this.options.inactivity) return true;
    return false;
  }

  /** Forgets what no request still to come can rest on. */
  private prune(): void {
    this.sincePrune = 0;
    const floor = Math.min(this.watermark - this.options.disorder, this.held[this.head]?.receivedAt ?? Infinity) - this.options.inactivity;
    if (!Number.isFinite(floor)) return;
    for (const [key, events] of this.seen) {
      for (const [id, at] of events) if (at < floor) events.delete(id);
      if (!events.size) this.seen.delete(key);
    }
  }
}

/** Every request with its cookieless ones filled in (the batch sessionizer: all of them at once). */
export function fillCookieless(requests: readonly ReceivedRequest[], options: Omit<CookielessOptions, 'disorder'>): ReceivedRequest[] {
  const devices = new CookielessRequests({ ...options, disorder: Infinity });
  return [...requests.flatMap((r) => devices.take(r)), ...devices.flush()];
}

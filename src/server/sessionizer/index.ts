import { fillCookieless, isCookieless, saltsOf, type SaltOf } from './cookieless';
import { DEFAULT_INACTIVITY, sessionizeDevice, type SessionizeOptions } from './device';
import { preferredCopy, storedEvents, type ReceivedRequest, type StoredEvent } from './request';
import type { SessionRow } from './row';

export { Engine, rowKey, type Change, type EngineOptions } from './engine';
export { sessionizeDevice, DEFAULT_INACTIVITY, type SessionizeOptions, type Disagreements } from './device';
export { storedEvents, type ReceivedRequest, type RequestMeta, type StoredEvent } from './request';
export type { SessionRow, RowOptions } from './row';
export { COOKIELESS_TAG, SALT_GRACE, CookielessRequests, saltsOf, type CookielessOptions, type SaltOf } from './cookieless';

/**
 * The batch sessionizer: every session row of a set of received requests
 * (model.md, "Sessionization"). The reference the incremental Engine must equal.
 * Cookieless requests get their devices as the collector derives them
 * (./cookieless.ts), under `salts` (UTC day -> 64 hex digits) where given, else
 * under salts made for this call. `salts` may also be a SaltOf, so that several
 * calls over parts of one input (the partitions of `sessionbeacon sessionize`)
 * share the salts made for the run.
 */
export function sessionize(
  requests: ReceivedRequest[],
  options: SessionizeOptions & { defaultProject?: number | string; salts?: Readonly<Record<string, string>> | SaltOf } = {},
): SessionRow[] {
  const salt = typeof options.salts === 'function' ? options.salts : saltsOf(options.salts);
  const input = requests.some(isCookieless) ? fillCookieless(requests, { salt, inactivity: options.inactivity ?? DEFAULT_INACTIVITY }) : requests;
  // project -> device -> event id -> the preferred copy (rules 1 and 3), without building key strings.
  const projects = new Map<number | string, Map<string, Map<string, StoredEvent>>>();
  for (const request of input)
    for (const e of storedEvents(request, options.defaultProject)) {
      let devices = projects.get(e.projectId);
      if (!devices) projects.set(e.projectId, (devices = new Map()));
      let events = devices.get(e.event.deviceId);
      if (!events) devices.set(e.event.deviceId, (events = new Map()));
      const had = events.get(e.event.id);
      events.set(e.event.id, had ? preferredCopy(had, e) : e);
    }
  const rows: SessionRow[] = [];
  for (const devices of projects.values())
    for (const events of devices.values()) for (const row of sessionizeDevice([...events.values()], options).rows) rows.push(row);
  return rows;
}

import { sessionizeDevice, type SessionizeOptions } from './device';
import { preferredCopy, storedEvents, type ReceivedRequest, type StoredEvent } from './request';
import type { SessionRow } from './row';

export { Engine, rowKey, type Change, type EngineOptions } from './engine';
export { sessionizeDevice, DEFAULT_INACTIVITY, type SessionizeOptions, type Disagreements } from './device';
export { storedEvents, type ReceivedRequest, type RequestMeta, type StoredEvent } from './request';
export type { SessionRow, RowOptions } from './row';

/**
 * The batch sessionizer: every session row of a set of received requests
 * (model.md, "Sessionization"). The reference the incremental Engine must equal.
 */
export function sessionize(requests: ReceivedRequest[], options: SessionizeOptions & { defaultProject?: number | string } = {}): SessionRow[] {
  // project -> device -> event id -> the preferred copy (rules 1 and 3), without building key strings.
  const projects = new Map<number | string, Map<string, Map<string, StoredEvent>>>();
  for (const request of requests)
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

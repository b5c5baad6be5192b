import { sessionizeDevice, type SessionizeOptions } from './device';
import { deviceKey, eventKey, preferredCopy, storedEvents, type ReceivedRequest, type StoredEvent } from './request';
import type { SessionRow } from './row';

export { Engine, rowKey, type Change, type EngineOptions } from './engine';
export { sessionizeDevice, DEFAULT_INACTIVITY, type SessionizeOptions, type Disagreements } from './device';
export { storedEvents, type ReceivedRequest, type StoredEvent } from './request';
export type { SessionRow, RowOptions } from './row';

/**
 * The batch sessionizer: every session row of a set of received requests
 * (model.md, "Sessionization"). The reference the incremental Engine must equal.
 */
export function sessionize(requests: ReceivedRequest[], options: SessionizeOptions & { defaultProject?: number | string } = {}): SessionRow[] {
  const unique = new Map<string, StoredEvent>();
  for (const request of requests)
    for (const e of storedEvents(request, options.defaultProject)) {
      const key = eventKey(e);
      const had = unique.get(key);
      unique.set(key, had ? preferredCopy(had, e) : e);
    }
  const devices = new Map<string, StoredEvent[]>();
  for (const e of unique.values()) {
    const key = deviceKey(e);
    const list = devices.get(key);
    if (list) list.push(e);
    else devices.set(key, [e]);
  }
  return [...devices.values()].flatMap((events) => sessionizeDevice(events, options).rows);
}

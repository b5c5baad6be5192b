/**
 * sessionbeacon for single-page apps and bundlers:
 * `import { createTracker } from 'sessionbeacon'`. Nothing runs at import.
 */
import { browserEnv, startTracker, type QueuedCall, type Tracker, type TrackerCore, type TrackerEnv } from './tracker';
import type { TrackerOptions } from './options';

export type { Tracker, TrackerEnv, Ids, QueuedCall } from './tracker';
export type { TrackerOptions } from './options';
export { SDK_VERSION } from './tracker';
export type * from '../protocol';
// The protocol's values, for senders and tests that build batches themselves. Named one by
// one: `export type *` alone left them declared in the bundled types but absent at run time.
export { PROTOCOL_VERSION, MAX_REQUEST_BYTES, LIMITS, EVENT_TYPES, PASSIVE_EVENT_TYPES, CLICK_ID_PARAMS, ID_FIELDS, cut, expandEvents } from '../protocol';

const METHODS = ['track', 'page', 'identify', 'reset', 'optOut', 'optIn', 'flush', 'destroy'] as const;

/**
 * The public face of a tracker: every method runs in try/catch (no call of ours
 * may throw into the host page) and the promise methods never reject. With no
 * core (server-side rendering, no DOM) every method does nothing.
 */
function facade(core?: TrackerCore): Tracker {
  const tracker = {
    get ids() {
      try {
        return core!.ids;
      } catch {
        return {};
      }
    },
  } as Tracker;
  for (const name of METHODS) {
    (tracker as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      try {
        const result = core!.call(name, args);
        return result instanceof Promise ? result.catch(() => {}) : result;
      } catch {
        return name === 'flush' || name === 'destroy' ? Promise.resolve() : undefined;
      }
    };
  }
  return tracker;
}

/**
 * Creates the tracker and starts it (once the page is shown, for a prerendered
 * page): a page_view for the current page goes out within `flushInterval` ms,
 * then activity, route changes and page leaves are tracked until `destroy()`.
 * `{ endpoint }` alone works; see TrackerOptions for the rest. `env` replaces
 * browser parts (clock, storage, transport...) in tests; `replay` are calls made
 * before the tracker existed (the script tag's stub).
 */
export function createTracker(options: TrackerOptions, env?: Partial<TrackerEnv>, replay?: QueuedCall[]): Tracker {
  let core: TrackerCore | undefined;
  try {
    const win = env?.window ?? (typeof window === 'undefined' ? undefined : window);
    if (win?.document) {
      core = startTracker(options, { ...browserEnv(win, options), ...env }, replay); // undefined: refused (a second tracker for the same endpoint and project)
    }
  } catch {
    core = undefined;
  }
  return facade(core);
}

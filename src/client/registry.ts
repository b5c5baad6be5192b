import type { Ids } from './tracker';

/**
 * Where a page keeps its live trackers: `window[Symbol.for('sessionbeacon.trackers')]`,
 * a Set of TrackerHandle. sessionbeacon/testing flushes them without knowing how
 * the site made them (script tag or npm). A Symbol.for key takes no global name.
 */
export const TRACKERS = Symbol.for('sessionbeacon.trackers');

/** What a test may do with a live tracker. */
export interface TrackerHandle {
  /** The endpoint (absolute) and project: one tracker per key and page. */
  key?: string;
  flush(): Promise<void>;
  ids(): Partial<Ids>;
}

/**
 * The page's live trackers, to add a new one to once it is built; or, when one
 * for the same key (endpoint and project) already runs on the page, a warning and
 * undefined: a second one (the tag pasted twice, the tag and the npm build) would
 * send every event twice.
 */
export function liveTrackers(win: Window, key: string): Set<TrackerHandle> | undefined {
  const live = ((win as unknown as Record<symbol, Set<TrackerHandle>>)[TRACKERS] ??= new Set());
  for (const other of live)
    if (other.key === key) {
      console.warn(`sessionbeacon: a tracker for ${key} already runs on this page; this one does nothing`);
      return undefined;
    }
  return live;
}

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

import { nanoid } from 'nanoid';
import { DEVICE_COOKIE_MAX_AGE } from './ids';
import type { Locks } from './locks';
import { resolveOptions, type TrackerOptions } from './options';
import { checkCookieDomain, cookieArea, idbArea, webStorageArea, type StorageAreas } from './storage';
import type { Channel } from './tab';
import { beaconTransport, type Transport } from './transport';

/** Seams for tests and unusual hosts; every member has a browser default (browserEnv). */
export interface TrackerEnv {
  window: Window;
  now: () => number;
  newId: () => string;
  transport: Transport;
  /** The storage areas, each asking `canStore()` before it writes. */
  storage: (canStore: () => boolean) => StorageAreas;
  /** Web Locks; undefined uses the re-read-before-write fallback. */
  locks: Locks | undefined;
  channel: () => Channel | undefined;
}

/** The browser defaults of every seam. */
export function browserEnv(win: Window, opts: TrackerOptions): TrackerEnv {
  const o = resolveOptions(opts);
  // Probed with a cookie, so at the first cookie write (consent pending or cookieless: none before it).
  let probed: [string | undefined] | undefined;
  const settings = {
    maxAge: DEVICE_COOKIE_MAX_AGE,
    get domain() {
      return (probed ||= [checkCookieDomain(win.document, o.cookieDomain)])[0];
    },
  };
  return {
    window: win,
    now: () => Date.now(),
    newId: () => nanoid(),
    transport: beaconTransport,
    storage: (canStore) => ({
      cookie: o.cookies
        ? cookieArea(win.document, settings, canStore)
        : webStorageArea(() => undefined, canStore),
      local: webStorageArea(() => win.localStorage, canStore),
      session: webStorageArea(() => win.sessionStorage, canStore),
      idb: idbArea(canStore),
    }),
    locks: (win.navigator as Navigator & { locks?: Locks }).locks,
    channel: () => (typeof BroadcastChannel === 'function' ? new BroadcastChannel('sessionbeacon') : undefined),
  };
}

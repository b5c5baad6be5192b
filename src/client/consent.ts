import { listen, type Off } from './lib/listen';
import type { SyncArea } from './storage';

/** Where the visitor's decision is remembered: localStorage and a cookie, '1' (given) or '0' (refused). */
export const CONSENT_KEY = 'sb_consent';

/** Consent given: IDs are stored and events sent. */
export const GRANTED = 0;
/** Not answered yet (`consent: 'pending'`): events are built and held in memory, nothing is stored. */
export const PENDING = 1;
/** Refused (optOut, a stored '0', or Global Privacy Control): events are dropped. */
export const DENIED = 2;
export type ConsentState = typeof GRANTED | typeof PENDING | typeof DENIED;

/**
 * The consent a page starts with: a stored decision first (the visitor's own
 * answer on an earlier page), then Global Privacy Control (an opt-out unless
 * `respectGpc` is false), then the `consent` option.
 *
 * The one place that says what may be stored: the storage areas ask `stores()`
 * before every write (storage.ts). Issue 16's cookieless mode belongs here too:
 * a state in which events are sent while nothing is stored.
 */
export function initialConsent(decisions: { local: SyncArea; cookie: SyncArea }, asked: 'granted' | 'pending', respectGpc: boolean, nav: Navigator): ConsentState {
  const stored = decisions.local.get(CONSENT_KEY) ?? decisions.cookie.get(CONSENT_KEY);
  const gpc = (nav as Navigator & { globalPrivacyControl?: boolean }).globalPrivacyControl;
  return stored === '1' ? GRANTED : stored === '0' || (gpc && respectGpc) ? DENIED : asked === 'pending' ? PENDING : GRANTED;
}

/** Remembers the visitor's decision, for the site's later pages and its other open tabs. The decision itself is always stored: forgetting an opt-out would break it. */
export function rememberConsent(decisions: { local: SyncArea; cookie: SyncArea }, given: boolean): void {
  const value = given ? '1' : '0';
  decisions.local.set(CONSENT_KEY, value);
  decisions.cookie.set(CONSENT_KEY, value);
}

/**
 * Fires when another tab of the site records a decision (localStorage's
 * `storage` event reaches every other page of the origin, at once): true for
 * consent given, false for an opt-out.
 */
export function onConsentElsewhere(win: Window, cb: (given: boolean) => void): Off {
  return listen(win, 'storage', (e) => {
    const { key, newValue } = e as StorageEvent;
    if (key === CONSENT_KEY && (newValue === '0' || newValue === '1')) cb(newValue === '1');
  });
}

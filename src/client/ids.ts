import { cut, LIMITS } from '../protocol';
import type { Locks } from './locks';
import { fields, isId, join } from './record';
import type { StorageAreas } from './storage';
import { attempt } from './lib/attempt';

/** The person-level IDs (model.md): the device, who is on it, and who they said they are. */
export interface Identity {
  deviceId: string;
  anonymousId: string;
  identityId?: string;
}

/** Same key in the cookie, localStorage and IndexedDB. */
export const IDENTITY_KEY = 'sb_id';
/** 400 days, the longest Max-Age browsers honour (RFC 6265bis). */
export const DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600;

export const encodeIdentity = (id: Identity): string => join(id.deviceId, id.anonymousId, encodeURIComponent(id.identityId ?? ''));

/** Anything that is not a well-formed record of ours (tampered, truncated) reads as nothing. */
export function decodeIdentity(value: string | null | undefined): Identity | undefined {
  const [deviceId, anonymousId, identity] = fields(value, 3) ?? [];
  if (!isId(deviceId) || !isId(anonymousId)) return undefined;
  // A malformed identityId is dropped, the device stays.
  return { deviceId, anonymousId, identityId: attempt(() => decodeURIComponent(identity)) || undefined };
}

/** identify() accepts strings and numbers; anything else, or empty, is ignored. Cut to LIMITS.identityId, never inside a character. */
export function normalizeIdentityId(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  return cut(String(value).trim(), LIMITS.identityId) || undefined;
}

/** The Web Lock under which a browser's first deviceId is decided. */
export const IDENTITY_LOCK = 'sessionbeacon:id';

export interface IdentityStore {
  current: Identity | undefined;
  /** The identity if a synchronous copy (cookie, localStorage) has it: then the first beacon need not wait. */
  readSync(): Identity | undefined;
  /** Resolves the identity (waiting for IndexedDB only if it must), then repairs every copy. */
  loadIdentity(): Promise<Identity>;
  /**
   * Consent was just given: what the browser has stored (any copy) wins over the
   * identity this page kept in memory while it could not store; then every copy is written.
   */
  adopt(): Promise<Identity>;
  /** The identity now, minting one if nothing is known: for a page leaving before load() settled. */
  ensure(): Identity;
  /** Writes the identity to every copy. */
  writeBack(): Identity;
  /** Sets identityId; true when it changed. */
  identify(identityId: string): boolean;
  /** Log-out on a shared computer: a new anonymousId and no identityId; the deviceId stays. */
  reset(): void;
  /** Opt-out: every stored copy is deleted; the page keeps its IDs in memory only. */
  forget(): void;
}

/**
 * Keeps the identity in three copies that repair each other: the first-party
 * cookie, localStorage and IndexedDB. Any copy that survives keeps the deviceId:
 * a person who clears cookies and localStorage but not IndexedDB keeps it.
 * Read order on load: cookie, then localStorage (both synchronous), then
 * IndexedDB (asynchronous, only when both others are gone). A new deviceId is
 * minted only when all three are empty, and every load writes all three back,
 * which also renews the cookie's Max-Age.
 *
 * Several trackers or tabs starting at once on a first visit must agree on one
 * deviceId: the wait for IndexedDB gives another one time to mint and write its
 * own. So a deviceId is decided under the Web Lock `sessionbeacon:id` (IndexedDB,
 * which every process sees at once, is read there and written before the lock
 * is let go), and the synchronous copies are read again just before minting,
 * which is all a browser without Web Locks gets (then two tabs in the very same
 * instant may still mint two; trackers of one page never do).
 */
export function identityStore(areas: StorageAreas, newId: () => string, locks?: Locks): IdentityStore {
  const { cookie, local, idb } = areas;
  const write = (): Promise<void> => {
    const id = (store.current ||= { deviceId: newId(), anonymousId: newId() });
    const value = encodeIdentity(id);
    cookie.set(IDENTITY_KEY, value);
    local.set(IDENTITY_KEY, value);
    return idb.set(IDENTITY_KEY, value);
  };
  const stored = () => decodeIdentity(cookie.get(IDENTITY_KEY)) || decodeIdentity(local.get(IDENTITY_KEY));
  // Read again after the wait for IndexedDB: another tracker may have written meanwhile. ensure()
  // may have minted meanwhile too (the page was hidden while we waited): a stored copy still wins.
  const decide = async () => {
    store.current = stored() || decodeIdentity(await idb.get(IDENTITY_KEY)) || stored() || store.current;
    await write();
  };
  const underLock = () => (locks ? locks.request(IDENTITY_LOCK, {}, decide).catch(decide) : decide()).then(() => store.current!);
  const store: IdentityStore = {
    current: undefined,
    readSync: () => (store.current ||= stored()),
    loadIdentity: () => (store.readSync() ? Promise.resolve(store.writeBack()) : underLock()),
    adopt: underLock,
    ensure: () => store.readSync() || store.writeBack(),
    writeBack() {
      void write();
      return store.current!;
    },
    identify(identityId) {
      const id = store.ensure();
      if (id.identityId === identityId) return false;
      store.current = { ...id, identityId };
      store.writeBack();
      return true;
    },
    reset() {
      store.current = { deviceId: store.ensure().deviceId, anonymousId: newId() };
      store.writeBack();
    },
    forget() {
      cookie.del(IDENTITY_KEY);
      local.del(IDENTITY_KEY);
      void idb.del(IDENTITY_KEY);
    },
  };
  return store;
}

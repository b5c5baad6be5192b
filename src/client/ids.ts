import { fields, isId, join } from './record';
import type { StorageAreas } from './storage';

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
  let identityId: string | undefined;
  try {
    identityId = decodeURIComponent(identity) || undefined;
  } catch {
    // a malformed identityId is dropped, the device stays
  }
  return { deviceId, anonymousId, identityId };
}

/** identify() accepts strings and numbers; anything else, or empty, is ignored. identityId is a varchar(80). */
export function normalizeIdentityId(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  return String(value).trim().slice(0, 80) || undefined;
}

export interface IdentityStore {
  current: Identity | undefined;
  /** The identity if a synchronous copy (cookie, localStorage) has it: then the first beacon need not wait. */
  readSync(): Identity | undefined;
  /** Resolves the identity (waiting for IndexedDB only if it must), then repairs every copy. */
  loadIdentity(): Promise<Identity>;
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
 */
export function identityStore(areas: StorageAreas, newId: () => string): IdentityStore {
  const { cookie, local, idb } = areas;
  const store: IdentityStore = {
    current: undefined,
    readSync: () => (store.current ||= decodeIdentity(cookie.get(IDENTITY_KEY)) || decodeIdentity(local.get(IDENTITY_KEY))),
    async loadIdentity() {
      if (!store.readSync()) {
        const fromIdb = decodeIdentity(await idb.get(IDENTITY_KEY));
        // ensure() may have run meanwhile (the page was hidden while we waited).
        store.current ||= fromIdb;
      }
      return store.writeBack();
    },
    ensure: () => store.readSync() || store.writeBack(),
    writeBack() {
      const id = (store.current ||= { deviceId: newId(), anonymousId: newId() });
      const value = encodeIdentity(id);
      cookie.set(IDENTITY_KEY, value);
      local.set(IDENTITY_KEY, value);
      void idb.set(IDENTITY_KEY, value);
      return id;
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

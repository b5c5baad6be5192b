import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';
import { attempt } from './lib/attempt';

/**
 * The three places IDs live, each behind a small interface so tests can inject
 * their own and so that no failure of the browser's storage (blocked cookies,
 * Safari private mode, a full quota, a missing IndexedDB) reaches the page:
 * every area keeps a copy in memory and quietly degrades to it.
 *
 * `canStore()` is asked before every write: while consent is pending or refused,
 * nothing is written anywhere, the IDs live in memory only.
 */
export interface SyncArea {
  get(key: string): string | null;
  set(key: string, value: string): void;
  del(key: string): void;
}

export interface AsyncArea {
  /**
   * Resolves undefined on any failure, and within `wait` ms (the area's timeout by
   * default): nothing hangs. Undefined is "no answer", not proof of absence.
   */
  get(key: string, wait?: number): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
  /** Every key of the area (empty on failure), within `wait` ms. */
  keys(wait?: number): Promise<string[]>;
}

export interface StorageAreas {
  cookie: SyncArea;
  local: SyncArea;
  session: SyncArea;
  idb: AsyncArea;
}

type CanStore = () => boolean;

/**
 * One storage area over raw get/set/del functions that may throw or be missing.
 * A copy is kept in memory, so the page keeps its IDs even where every write fails.
 */
function safeArea(
  get: (key: string) => string | null | undefined,
  set: (key: string, value: string) => void,
  del: (key: string) => void,
  canStore: CanStore,
): SyncArea {
  const mem = new Map<string, string>();
  return {
    get: (key) => attempt(() => get(key)) || mem.get(key) || null,
    set(key, value) {
      mem.set(key, value);
      if (canStore()) attempt(() => set(key, value));
    },
    del(key) {
      mem.delete(key);
      attempt(() => del(key));
    },
  };
}

/** localStorage or sessionStorage; the getter itself may throw (SecurityError), hence a function. */
export function webStorageArea(area: () => Storage | null | undefined, canStore: CanStore): SyncArea {
  return safeArea(
    (key) => area()?.getItem(key),
    (key, value) => area()?.setItem(key, value),
    (key) => area()?.removeItem(key),
    canStore,
  );
}

export interface CookieSettings {
  /** Max-Age in seconds of cookies written with set(). */
  maxAge: number;
  /** A parent domain to share the cookie with subdomains; host-only when undefined. */
  domain?: string;
}

/**
 * First-party cookies: SameSite=Lax, Secure on https, path=/. Max-Age is renewed
 * by every write. Values are URI-encoded so any identityId is safe in a cookie.
 */
export function cookieArea(doc: Document, settings: CookieSettings, canStore: CanStore): SyncArea {
  // At each write, not before: settings.domain may be probed (a cookie) only once writing is allowed.
  const attrs = () => `; path=/; samesite=lax${settings.domain ? `; domain=${settings.domain}` : ''}${doc.location?.protocol === 'https:' ? '; secure' : ''}`;
  const write = (key: string, value: string, maxAge: number) => (doc.cookie = `${key}=${encodeURIComponent(value)}; max-age=${maxAge}${attrs()}`);
  return safeArea(
    (key) => readCookie(doc.cookie, key),
    (key, value) => write(key, value, settings.maxAge),
    (key) => write(key, '', 0),
    canStore,
  );
}

export function readCookie(cookies: string, key: string): string | undefined {
  for (const pair of cookies.split(';')) {
    const at = pair.indexOf('=');
    // Undefined for someone else's malformed value under our name.
    if (pair.slice(0, at).trim() === key) return attempt(() => decodeURIComponent(pair.slice(at + 1).trim()));
  }
  return undefined;
}

/**
 * Checks a `cookieDomain` option: it must be the page's host or a parent of it,
 * and the browser must accept a cookie on it. Browsers refuse cookies on public
 * suffixes (co.uk, github.io, vercel.app: https://publicsuffix.org), so a probe
 * cookie that does not stick means the domain is shared with strangers and is
 * refused: the cookies stay host-only. Returns the domain to use, or undefined.
 */
export function checkCookieDomain(doc: Document, domain: unknown): string | undefined {
  if (!domain) return undefined;
  const wanted = String(domain).replace(/^\./, '').toLowerCase();
  const host = doc.location?.hostname.toLowerCase() ?? '';
  if (wanted !== host && !host.endsWith('.' + wanted)) return undefined;
  return attempt(() => {
    const probe = 'sb_probe';
    const attrs = `; path=/; domain=${wanted}; samesite=lax`;
    doc.cookie = `${probe}=1${attrs}`;
    const ok = readCookie(doc.cookie, probe) === '1';
    doc.cookie = `${probe}=${attrs}; max-age=0`;
    return ok ? wanted : undefined;
  });
}

/**
 * IndexedDB through idb-keyval's store, in a database of our own ("sessionbeacon")
 * so we never touch the page's own idb-keyval data. Opened lazily: nothing happens
 * at import, and a browser without IndexedDB only ever gets resolved undefineds.
 * Every operation settles within `timeout` ms: a stuck IndexedDB (seen in Safari)
 * must not stall the page's beacons.
 */
export function idbArea(canStore: CanStore, timeout = 1000): AsyncArea {
  let store: UseStore | undefined;
  const run = <T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => T | PromiseLike<T>, wait = timeout): Promise<T | undefined> =>
    Promise.race([
      Promise.resolve()
        .then(() => (store ||= createStore('sessionbeacon', 'kv'))(mode, op))
        .catch(() => undefined),
      new Promise<undefined>((resolve) => setTimeout(resolve, wait)),
    ]);
  // Opening creates the database: a delete (an opt-out) or a listing opens only one that exists, where the browser can tell.
  const exists = () => Promise.resolve().then(() => !!store || (indexedDB.databases?.().then((all) => all.some((d) => d.name === 'sessionbeacon')) ?? true));
  const write = (op: (s: IDBObjectStore) => void) =>
    run('readwrite', (s) => {
      op(s);
      return promisifyRequest(s.transaction);
    }).then(() => undefined);
  return {
    get: (key, wait) => run('readonly', (s) => promisifyRequest<string | undefined>(s.get(key)), wait),
    set: (key, value) => (canStore() ? write((s) => s.put(value, key)) : Promise.resolve()),
    del: (key) => exists().then((there) => (there ? write((s) => s.delete(key)) : undefined), () => {}),
    keys: (wait) =>
      exists()
        .then((there) => (there ? run('readonly', (s) => promisifyRequest(s.getAllKeys()), wait) : []), () => [])
        .then((keys) => (keys ?? []).map(String)),
  };
}

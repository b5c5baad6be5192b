import { describe, expect, it } from 'vitest';
import { LIMITS } from '../src/protocol';
import { decodeIdentity, encodeIdentity, IDENTITY_KEY, identityStore, normalizeIdentityId } from '../src/client/ids';
import { cookieArea, idbArea, webStorageArea } from '../src/client/storage';
import { idSequence, memoryArea, memoryAsyncArea } from './helpers';

function areas() {
  return { cookie: memoryArea(), local: memoryArea(), session: memoryArea(), idb: memoryAsyncArea() };
}

describe('identity', () => {
  it('mints a deviceId and anonymousId once and writes all three copies', async () => {
    const a = areas();
    const id = await identityStore(a, idSequence()).loadIdentity();
    expect(id).toEqual({ deviceId: 'id1', anonymousId: 'id2', identityId: undefined });
    const stored = encodeIdentity(id);
    expect(a.cookie.get(IDENTITY_KEY)).toBe(stored);
    expect(a.local.get(IDENTITY_KEY)).toBe(stored);
    expect(a.idb.map.get(IDENTITY_KEY)).toBe(stored);
  });

  it.each([
    ['cookie only', ['cookie']],
    ['localStorage only', ['local']],
    ['IndexedDB only', ['idb']],
  ])('repairs every copy from %s', async (_name, keep) => {
    const a = areas();
    const value = encodeIdentity({ deviceId: 'dev', anonymousId: 'anon', identityId: 'user@example.com' });
    if (keep.includes('cookie')) a.cookie.set(IDENTITY_KEY, value);
    if (keep.includes('local')) a.local.set(IDENTITY_KEY, value);
    if (keep.includes('idb')) await a.idb.set(IDENTITY_KEY, value);
    const id = await identityStore(a, idSequence()).loadIdentity();
    expect(id).toEqual({ deviceId: 'dev', anonymousId: 'anon', identityId: 'user@example.com' });
    expect(a.cookie.get(IDENTITY_KEY)).toBe(value);
    expect(a.local.get(IDENTITY_KEY)).toBe(value);
    expect(a.idb.map.get(IDENTITY_KEY)).toBe(value);
  });

  it('identify sets identityId; reset gives a new anonymousId and keeps the deviceId', async () => {
    const store = identityStore(areas(), idSequence());
    const before = await store.loadIdentity();
    expect(store.identify('u-1')).toBe(true);
    expect(store.identify('u-1')).toBe(false);
    expect(store.current).toMatchObject({ deviceId: before.deviceId, anonymousId: before.anonymousId, identityId: 'u-1' });
    store.reset();
    expect(store.current!.deviceId).toBe(before.deviceId);
    expect(store.current!.anonymousId).not.toBe(before.anonymousId);
    expect(store.current!.identityId).toBeUndefined();
  });

  it('keeps IDs in memory, and never throws, when every storage throws', async () => {
    const throwing = new Proxy({} as Storage, {
      get() {
        throw new DOMException('blocked', 'SecurityError');
      },
    });
    const doc = {
      location: { protocol: 'https:', hostname: 'example.com' },
      get cookie(): string {
        throw new DOMException('sandboxed', 'SecurityError');
      },
      set cookie(_v: string) {
        throw new DOMException('sandboxed', 'SecurityError');
      },
    } as unknown as Document;
    const saved = globalThis.indexedDB;
    // @ts-expect-error: no IndexedDB either
    delete globalThis.indexedDB;
    try {
      const store = identityStore(
        {
          cookie: cookieArea(doc, { maxAge: 1 }, () => true),
          local: webStorageArea(() => throwing, () => true),
          session: webStorageArea(() => { throw new DOMException('blocked', 'SecurityError'); }, () => true),
          idb: idbArea(() => true, 50),
        },
        idSequence(),
      );
      const id = await store.loadIdentity();
      expect(id).toEqual({ deviceId: 'id1', anonymousId: 'id2' });
      expect(store.ensure()).toBe(id);
      store.identify('u');
      expect(store.readSync()!.identityId).toBe('u');
    } finally {
      globalThis.indexedDB = saved;
    }
  });

  it('reads tampered or foreign values as nothing', () => {
    expect(decodeIdentity('')).toBeUndefined();
    expect(decodeIdentity('a:b')).toBeUndefined();
    expect(decodeIdentity('a:b:c:d')).toBeUndefined();
    expect(decodeIdentity('<script>:b:')).toBeUndefined();
    expect(decodeIdentity('a:b:%E0%A4%A')).toEqual({ deviceId: 'a', anonymousId: 'b', identityId: undefined });
    expect(decodeIdentity(encodeIdentity({ deviceId: 'a', anonymousId: 'b', identityId: 'x:y%z' }))!.identityId).toBe('x:y%z');
  });

  it('normalizes identityIds', () => {
    expect(normalizeIdentityId(' u1 ')).toBe('u1');
    expect(normalizeIdentityId(42)).toBe('42');
    expect(normalizeIdentityId('x'.repeat(500))).toHaveLength(LIMITS.identityId);
    expect(normalizeIdentityId('x'.repeat(LIMITS.identityId - 1) + '😀')).toBe('x'.repeat(LIMITS.identityId - 1)); // never half a character
    for (const bad of ['', '   ', null, undefined, {}, [], true]) expect(normalizeIdentityId(bad)).toBeUndefined();
  });
});

describe('idbArea (idb-keyval over IndexedDB)', () => {
  it('stores and reads back in a database of its own', async () => {
    const idb = idbArea(() => true);
    await idb.set('k', 'v');
    expect(await idb.get('k')).toBe('v');
    await idb.del('k');
    expect(await idb.get('k')).toBeUndefined();
  });

  it('writes nothing while storing is not allowed', async () => {
    const idb = idbArea(() => false);
    await idb.set('held', 'v');
    expect(await idbArea(() => true).get('held')).toBeUndefined();
  });

  it('resolves undefined when IndexedDB is missing', async () => {
    const saved = globalThis.indexedDB;
    // @ts-expect-error: a browser without IndexedDB
    delete globalThis.indexedDB;
    try {
      const idb = idbArea(() => true);
      expect(await idb.get('k')).toBeUndefined();
      await expect(idb.set('k', 'v')).resolves.toBeUndefined();
    } finally {
      globalThis.indexedDB = saved;
    }
  });

  it('settles within its timeout when IndexedDB never answers', async () => {
    const saved = globalThis.indexedDB;
    globalThis.indexedDB = { open: () => ({}) } as unknown as IDBFactory; // a request that never fires
    try {
      const started = Date.now();
      expect(await idbArea(() => true, 50).get('k')).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      globalThis.indexedDB = saved;
    }
  });
});

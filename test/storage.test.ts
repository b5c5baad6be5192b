import { describe, expect, it } from 'vitest';
import { checkCookieDomain, cookieArea, readCookie, webStorageArea } from '../src/client/storage';

/** A document whose cookie writes are recorded, and readable back as a real jar would (name=value only). */
function cookieDoc(protocol: string, hostname = 'shop.example.com') {
  const writes: string[] = [];
  const jar = new Map<string, string>();
  const doc = {
    location: { protocol, hostname },
    get cookie() {
      return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    },
    set cookie(value: string) {
      writes.push(value);
      const [pair, ...attrs] = value.split('; ');
      const [k, v] = pair.split('=');
      if (attrs.includes('max-age=0')) jar.delete(k);
      else jar.set(k, v);
    },
  } as unknown as Document;
  return { doc, writes, jar };
}

describe('cookies', () => {
  it('are SameSite=Lax, path=/, with Max-Age, Secure only on https', () => {
    const https = cookieDoc('https:');
    cookieArea(https.doc, { maxAge: 34560000 }, () => true).set('sb_id', 'a:b:');
    expect(https.writes[0]).toBe('sb_id=a%3Ab%3A; max-age=34560000; path=/; samesite=lax; secure');
    const http = cookieDoc('http:');
    cookieArea(http.doc, { maxAge: 10, domain: 'example.com' }, () => true).set('k', 'v');
    expect(http.writes[0]).toBe('k=v; max-age=10; path=/; samesite=lax; domain=example.com');
  });

  it('round-trip any value, and write nothing while storing is not allowed', () => {
    const { doc, writes } = cookieDoc('https:');
    let allowed = false;
    const area = cookieArea(doc, { maxAge: 10 }, () => allowed);
    area.set('k', 'user@example.com; x=1');
    expect(writes).toHaveLength(0);
    expect(area.get('k')).toBe('user@example.com; x=1'); // from memory
    allowed = true;
    area.set('k', 'user@example.com; x=1');
    expect(readCookie(doc.cookie, 'k')).toBe('user@example.com; x=1');
  });

  it('cookieDomain must be the host or a parent of it, and must stick (browsers refuse public suffixes)', () => {
    expect(checkCookieDomain(cookieDoc('https:').doc, 'example.com')).toBe('example.com');
    expect(checkCookieDomain(cookieDoc('https:').doc, '.Example.com')).toBe('example.com');
    expect(checkCookieDomain(cookieDoc('https:').doc, 'shop.example.com')).toBe('shop.example.com');
    expect(checkCookieDomain(cookieDoc('https:').doc, 'other.com')).toBeUndefined();
    expect(checkCookieDomain(cookieDoc('https:').doc, 'ample.com')).toBeUndefined();
    expect(checkCookieDomain(cookieDoc('https:').doc, undefined)).toBeUndefined();
    // A jar that drops the cookie, as a browser does for a public suffix.
    const refusing = cookieDoc('https:', 'app.vercel.app');
    Object.defineProperty(refusing.doc, 'cookie', { get: () => '', set: () => {} });
    expect(checkCookieDomain(refusing.doc, 'vercel.app')).toBeUndefined();
  });
});

describe('web storage areas', () => {
  it('fall back to memory when the storage throws on access, on write or is full', () => {
    const full = { getItem: () => null, setItem: () => { throw new DOMException('full', 'QuotaExceededError'); }, removeItem: () => {} } as unknown as Storage;
    const area = webStorageArea(() => full, () => true);
    area.set('k', 'v');
    expect(area.get('k')).toBe('v');
    const blocked = webStorageArea(() => { throw new DOMException('no', 'SecurityError'); }, () => true);
    blocked.set('k', 'v');
    expect(blocked.get('k')).toBe('v');
    blocked.del('k');
    expect(blocked.get('k')).toBeNull();
  });
});

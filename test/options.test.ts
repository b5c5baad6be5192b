import { describe, expect, it } from 'vitest';
import { DEFAULTS, resolveOptions } from '../src/client/options';
import { fromStub, optionsFromDataset } from '../src/client/stub';

describe('options', () => {
  it('fills every default from { endpoint } alone', () => {
    expect(resolveOptions({ endpoint: '/c' })).toEqual({ ...DEFAULTS, endpoint: '/c', projectId: undefined, cookieDomain: undefined });
  });

  it('replaces values of the wrong type or sign by the default', () => {
    const o = resolveOptions({ endpoint: 5, flushInterval: '10', inactivityTimeout: -1, cookies: 'no', consent: 'maybe' } as never);
    expect(o.endpoint).toBe('/collect');
    expect(o.flushInterval).toBe(DEFAULTS.flushInterval);
    expect(o.inactivityTimeout).toBe(DEFAULTS.inactivityTimeout);
    expect(o.cookies).toBe(true);
    expect(o.consent).toBe('granted');
    expect(resolveOptions(undefined).endpoint).toBe('/collect');
    expect(resolveOptions('x' as never).endpoint).toBe('/collect');
  });

  it.each([NaN, Infinity, -Infinity])('replaces %s in every numeric option by the default', (bad) => {
    const numeric = Object.keys(DEFAULTS).filter((k) => typeof DEFAULTS[k as keyof typeof DEFAULTS] === 'number');
    expect(numeric.length).toBeGreaterThanOrEqual(5);
    const o = resolveOptions(Object.fromEntries([['endpoint', '/c'], ...numeric.map((k) => [k, bad])]) as never);
    for (const k of numeric) expect(o[k as keyof typeof o]).toBe(DEFAULTS[k as keyof typeof DEFAULTS]);
  });

  it('reads data-* attributes: camelCase, numbers, booleans, data-project', () => {
    const el = document.createElement('script');
    el.setAttribute('data-endpoint', 'https://c.example/collect');
    el.setAttribute('data-project', '42');
    el.setAttribute('data-inactivity-timeout', '600000');
    el.setAttribute('data-auto-page-views', 'false');
    el.setAttribute('data-respect-gpc', 'true');
    el.setAttribute('data-cookie-domain', 'example.com');
    el.setAttribute('data-consent', 'pending');
    expect(optionsFromDataset(el.dataset)).toEqual({
      endpoint: 'https://c.example/collect',
      projectId: 42,
      inactivityTimeout: 600000,
      autoPageViews: false,
      respectGpc: true,
      cookieDomain: 'example.com',
      consent: 'pending',
    });
  });

  it('turns the stub queue into calls with their moment and page', () => {
    const q: [ArrayLike<unknown>, number, string, string][] = [
      [['track', 'signup', { plan: 'pro' }], 10, 'https://a.example/1', 'One'],
      [['identify', 'u1'], 20, 'https://a.example/2', 'Two'],
    ];
    expect(fromStub(Object.assign(() => {}, { q }))).toEqual([
      { method: 'track', args: ['signup', { plan: 'pro' }], ts: 10, url: 'https://a.example/1', title: 'One' },
      { method: 'identify', args: ['u1'], ts: 20, url: 'https://a.example/2', title: 'Two' },
    ]);
    expect(fromStub(undefined)).toEqual([]);
    expect(fromStub(Object.assign(() => {}, { q: 'junk' }) as never)).toEqual([]);
  });
});

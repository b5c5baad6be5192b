import { describe, expect, it } from 'vitest';
import { loadNavigationType, navigationEntry, navigationTiming } from '../src/client/timing';

const entry = (over: Record<string, number | string> = {}) => ({
  type: 'navigate' as NavigationTimingType,
  responseStart: 50,
  domInteractive: 300.4,
  domContentLoadedEventStart: 320.6,
  loadEventStart: 800,
  loadEventEnd: 805,
  activationStart: 0,
  ...over,
}) as Parameters<typeof navigationTiming>[0];

describe('navigation timing', () => {
  it('reports domInteractive, domContentLoaded and load in whole ms once the load is complete', () => {
    expect(navigationTiming(entry(), 1000)).toEqual({ domInteractive: 300, domContentLoaded: 321, load: 800 });
  });

  it('reports nothing before the load event has ended', () => {
    expect(navigationTiming(entry({ loadEventEnd: 0 }), 1000)).toBeUndefined();
    expect(navigationTiming(undefined, 1000)).toBeUndefined();
  });

  it('counts from activation for a prerendered page, never below zero', () => {
    expect(navigationTiming(entry({ activationStart: 500 }), 1000)).toEqual({ domInteractive: 0, domContentLoaded: 0, load: 300 });
  });

  it('drops values that are out of order or in the future', () => {
    expect(navigationTiming(entry({ domContentLoadedEventStart: 200 }), 1000)).toBeUndefined();
    expect(navigationTiming(entry({ domInteractive: 0 }), 1000)).toBeUndefined();
    expect(navigationTiming(entry(), 500)).toBeUndefined();
  });

  it('ignores entries whose responseStart is not sane (as web-vitals does)', () => {
    const perf = (e: object | undefined) => ({ getEntriesByType: () => [e], now: () => 1000 }) as unknown as Performance;
    expect(navigationEntry(perf(entry()))).toBeDefined();
    expect(navigationEntry(perf(entry({ responseStart: 0 })))).toBeUndefined();
    expect(navigationEntry(perf(entry({ responseStart: 5000 })))).toBeUndefined();
    expect(navigationEntry({ getEntriesByType: () => { throw new Error('old browser'); }, now: () => 0 } as unknown as Performance)).toBeUndefined();
  });

  it('names the navigation type', () => {
    expect(loadNavigationType(entry({ type: 'reload' }), false)).toBe('reload');
    expect(loadNavigationType(entry({ type: 'back_forward' }), false)).toBe('back_forward');
    expect(loadNavigationType(entry({ type: 'navigate' }), false)).toBe('navigate');
    expect(loadNavigationType(entry({ activationStart: 12 }), false)).toBe('prerender');
    expect(loadNavigationType(undefined, true)).toBe('prerender');
    expect(loadNavigationType(undefined, false)).toBe('navigate');
  });
});

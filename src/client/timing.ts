import type { NavigationTiming, NavigationType } from '../protocol';
import { attempt } from './lib/attempt';

type NavEntry = Pick<
  PerformanceNavigationTiming,
  'type' | 'responseStart' | 'domInteractive' | 'domContentLoadedEventStart' | 'loadEventStart' | 'loadEventEnd'
> & { activationStart?: number };

type Perf = Pick<Performance, 'getEntriesByType' | 'now'>;

/**
 * The Navigation Timing entry of the document load, or undefined when the
 * browser's is missing or not sane. As web-vitals does, an entry whose
 * responseStart is not within (0, now] is ignored: some browsers report entries
 * for the wrong document or with zeroed fields.
 */
export function navigationEntry(perf: Perf | undefined): NavEntry | undefined {
  // Undefined without Navigation Timing Level 2, too.
  return attempt(() => {
    const entry = perf?.getEntriesByType('navigation')[0] as NavEntry | undefined;
    return entry && entry.responseStart > 0 && entry.responseStart <= perf!.now() ? entry : undefined;
  });
}

/** The navigation type of a document load; a prerendered page that was activated reports `prerender`. */
export function loadNavigationType(entry: NavEntry | undefined, wasPrerendered: boolean): NavigationType {
  if (wasPrerendered || (entry?.activationStart ?? 0) > 0) return 'prerender';
  const type = entry?.type as NavigationType;
  return type === 'reload' || type === 'back_forward' ? type : 'navigate';
}

/**
 * domInteractive, domContentLoaded and load of the document load, in ms, once the
 * load is complete (loadEventEnd set), else undefined. For a prerendered page the
 * times count from activation (what the person waited), never below 0. A set of
 * values that is not in order, or lies in the future, is dropped, not sent.
 */
export function navigationTiming(entry: NavEntry | undefined, perfNow: number): NavigationTiming | undefined {
  if (!entry || !(entry.loadEventEnd > 0) || entry.loadEventEnd > perfNow) return undefined;
  const from = entry.activationStart ?? 0;
  const ms = (t: number) => Math.max(0, Math.round(t - from));
  const timing = {
    domInteractive: ms(entry.domInteractive),
    domContentLoaded: ms(entry.domContentLoadedEventStart),
    load: ms(entry.loadEventStart),
  };
  const sane =
    entry.domInteractive > 0 &&
    timing.domInteractive <= timing.domContentLoaded &&
    timing.domContentLoaded <= timing.load;
  return sane ? timing : undefined;
}

import { CLICK_ID_PARAMS, cut, LIMITS, type NavigationType, type PageContext, type Utm, type UserAgentData } from '../protocol';
import { attempt } from './lib/attempt';

/** A string field cut to its limit in the protocol (never inside a character); undefined for an empty or missing one. */
const text = (value: unknown, max: number): string | undefined => (typeof value === 'string' && value ? cut(value, max) : undefined);

/** UTM parameters and click ids of a URL; parameter names match case-insensitively. */
export function acquisition(url: string): Utm & { clickIds?: Record<string, string> } {
  const out: Utm & { clickIds?: Record<string, string> } = {};
  // Nothing from a URL that does not parse.
  attempt(() => new URL(url).searchParams)?.forEach((value, key) => {
    const name = key.toLowerCase();
    if (!value) return;
    // utm_source -> utmSource ... utm_id -> utmId
    if (/^utm_(source|medium|campaign|term|content|id)$/.test(name)) out[('utm' + name[4].toUpperCase() + name.slice(5)) as keyof Utm] ??= cut(value, LIMITS.utm);
    else if (CLICK_ID_PARAMS.includes(name)) (out.clickIds ||= {})[name] ??= cut(value, LIMITS.clickId);
  });
  return out;
}

/** The parts of the browser a page view reads: window-like, so tests can pass plain objects. */
export interface ContextSource {
  screen?: { width: number; height: number };
  navigator: Navigator & {
    userAgentData?: UserAgentData;
    webdriver?: boolean;
  };
}

/**
 * Everything a page view carries that does not change within the page: built
 * once per page view, never repeated on the page's other events.
 */
export function pageContext(
  source: ContextSource,
  page: { url: string; title: string; referrer?: string; navigationType: NavigationType },
  now: number,
): PageContext {
  const nav = source.navigator;
  const screen = source.screen;
  // Temporal first: it reads the zone alone, where Intl.DateTimeFormat() builds a whole
  // formatter with its locale data, about 70 ms at 4x throttling in Chromium 156 against
  // under 0.1 ms (docs/performance.md); Intl where Temporal is missing. Both ask ICU for the same id.
  // Without Intl, undefined: the offset still tells a lot.
  const timezoneIANA = attempt(
    () => (globalThis as { Temporal?: { Now: { timeZoneId(): string } } }).Temporal?.Now.timeZoneId() ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
  );
  const hints = nav.userAgentData;
  // Fields left undefined are dropped by JSON.stringify: nothing is sent for what the browser lacks.
  // Every string is cut to its limit in the protocol (LIMITS), which the collector shares.
  const ctx: PageContext = {
    url: cut(page.url, LIMITS.url),
    title: cut(page.title, LIMITS.title),
    referrer: text(page.referrer, LIMITS.referrer),
    navigationType: page.navigationType,
    ...acquisition(page.url),
    screenWidth: screen?.width,
    screenHeight: screen?.height,
    maxTouchPoints: nav.maxTouchPoints,
    language: text(nav.language, LIMITS.language),
    timezoneIANA: text(timezoneIANA, LIMITS.timezoneIANA),
    timezoneOffset: -new Date(now).getTimezoneOffset() || 0, // no -0 for UTC
    // The low-entropy hints (what NavigatorUAData#toJSON gives), each string cut to its limit.
    userAgentData: hints && {
      brands: Array.from(hints.brands ?? [], (b) => ({ brand: cut(String(b.brand), LIMITS.brand), version: cut(String(b.version), LIMITS.brandVersion) })),
      mobile: !!hints.mobile,
      platform: cut(String(hints.platform ?? ''), LIMITS.platform),
    },
    automation: nav.webdriver || undefined,
  };
  return ctx;
}

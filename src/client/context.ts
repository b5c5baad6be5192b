import { CLICK_ID_PARAMS, type NavigationType, type PageContext, type Utm, type UserAgentData } from '../protocol';

/** Longest value kept of a UTM parameter or click id (a hostile URL must not bloat every beacon). */
const PARAM_MAX = 255;

/** UTM parameters and click ids of a URL; parameter names match case-insensitively. */
export function acquisition(url: string): Utm & { clickIds?: Record<string, string> } {
  const out: Utm & { clickIds?: Record<string, string> } = {};
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return out;
  }
  params.forEach((value, key) => {
    const name = key.toLowerCase();
    const v = value.slice(0, PARAM_MAX);
    if (!v) return;
    // utm_source -> utmSource ... utm_id -> utmId
    if (/^utm_(source|medium|campaign|term|content|id)$/.test(name)) out[('utm' + name[4].toUpperCase() + name.slice(5)) as keyof Utm] ??= v;
    else if (CLICK_ID_PARAMS.includes(name)) (out.clickIds ||= {})[name] ??= v;
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
  let timezoneIANA: string | undefined;
  try {
    timezoneIANA = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    // no Intl: the offset still tells a lot
  }
  // Fields left undefined are dropped by JSON.stringify: nothing is sent for what the browser lacks.
  const ctx: PageContext = {
    url: page.url,
    title: page.title.slice(0, 512),
    referrer: page.referrer || undefined,
    navigationType: page.navigationType,
    ...acquisition(page.url),
    screenWidth: screen?.width,
    screenHeight: screen?.height,
    maxTouchPoints: nav.maxTouchPoints,
    language: nav.language || undefined,
    timezoneIANA,
    timezoneOffset: -new Date(now).getTimezoneOffset() || 0, // no -0 for UTC
    // NavigatorUAData#toJSON gives exactly the low-entropy hints: brands, mobile, platform.
    userAgentData: nav.userAgentData,
    automation: nav.webdriver || undefined,
  };
  return ctx;
}

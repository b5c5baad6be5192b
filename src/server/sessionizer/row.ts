import { CLICK_ID_PARAMS, type PageLeaveEvent, type PagePingEvent, type PageViewEvent, type WireEvent } from '../../protocol';
import { cut, DEFAULT_GEO_HEADERS, geo, int, INT_MAX, language, nonNegative, offsetMinutes, queryOf, smallint, splitURL, truncateIp, type GeoHeaders } from './columns';
import { COOKIELESS_TAG } from './cookieless';
import type { StoredEvent } from './request';
import { device } from './ua';

/**
 * A row of atomic.session (../../../ARCHITECTURE.md, docs/sessionizer.md): the
 * reference table's column names, with the replay product's columns left out and
 * a few added (sdkVersion, osVersion, weekday, touch, clickIds, traits).
 */
export interface SessionRow {
  projectId: number | string;
  sessionId: string;
  identityId: string | null;
  anonymousId: string | null;
  tags: string[] | null;
  deviceId: string | null;
  visitId: string | null;
  tabId: string | null;
  pageId: string | null;
  sessionStart: string;
  sessionEnd: string;
  duration: number;
  activeTime: number | null;
  localStartTime: string | null;
  timezoneOffset: number | null;
  timezoneIANA: string | null;
  clockSkew: number | null;
  browserFingerprint: null;
  deviceFingerprint: null;
  ipAddress: string | null;
  countryCode: string | null;
  region: string | null;
  city: string | null;
  isBot: boolean;
  userAgent: string | null;
  browserVersion: number | null;
  browserName: string | null;
  engineName: string | null;
  deviceCategory: string | null;
  deviceVendor: string | null;
  deviceType: string | null;
  deviceModel: string | null;
  osName: string | null;
  osVersion: string | null;
  maxTouchPoints: number | null;
  touch: boolean | null;
  screenWidth: number | null;
  screenHeight: number | null;
  requestedLanguage: string | null;
  requestedRegion: string | null;
  translatedLanguage: string | null;
  utmCampaign: string[] | null;
  utmMedium: string[] | null;
  utmSource: string[] | null;
  utmTerm: string[] | null;
  utmContent: string[] | null;
  clickIds: Record<string, string> | null;
  referrerURLOrigin: string | null;
  referrerURLPath: string | null;
  referrerURLSearchParams: Record<string, string> | null;
  initTitle: string | null;
  initURLOrigin: string | null;
  initURLPath: string | null;
  initURLSearchParams: Record<string, string> | null;
  exitTitle: string | null;
  exitURLOrigin: string | null;
  exitURLPath: string | null;
  exitURLSearchParams: Record<string, string> | null;
  pageReloaded: boolean | null;
  domInteractive: number | null;
  domContentLoaded: number | null;
  load: number | null;
  userActionsCount: number;
  pageViewsCount: number;
  weekday: number | null;
  traits: Record<string, unknown> | null;
  sdkVersion: string | null;
}

export interface RowOptions {
  /** Store whole IP addresses instead of /24 (IPv4) and /48 (IPv6). Default false. */
  fullIp?: boolean;
  geoHeaders?: GeoHeaders;
}

const isView = (e: WireEvent): e is PageViewEvent => e.type === 'page_view';
const isReport = (e: WireEvent): e is PageLeaveEvent | PagePingEvent => e.type === 'page_leave' || e.type === 'page_ping';

type UtmField = 'utmSource' | 'utmMedium' | 'utmCampaign' | 'utmTerm' | 'utmContent';

/**
 * The distinct values of a UTM field, in the session's order; null when none. The
 * client's parsed field is used, else the page URL's parameter, so events from
 * any client fill the column.
 */
function distinct(views: PageViewEvent[], urls: ReadonlyMap<string, string>[], field: UtmField): string[] | null {
  const param = 'utm_' + field.slice(3).toLowerCase();
  const values = [...new Set(views.map((v, i) => (typeof v[field] === 'string' ? v[field] : urls[i].get(param))).filter((v): v is string => !!v))];
  return values.length ? values : null;
}

/** Click ids of the page views: the client's, else the URL's. */
function clickIdsOf(views: PageViewEvent[], urls: ReadonlyMap<string, string>[]): Record<string, string> | null {
  const ids: Record<string, string> = {};
  for (const [i, v] of views.entries()) {
    const url = urls[i];
    for (const name of CLICK_ID_PARAMS) {
      const value = v.clickIds?.[name] ?? url.get(name);
      if (value && !(name in ids)) ids[name] = value;
    }
  }
  return Object.keys(ids).length ? ids : null;
}

/** time-of-day "HH:MM:SS.mmm" and ISO weekday (Monday 1 ... Sunday 7) of `t` shifted by `offsetMinutes`. */
function localTime(t: number, offsetMinutes: number | null) {
  if (offsetMinutes === null) return { localStartTime: null, weekday: null };
  const local = new Date(t + offsetMinutes * 60_000);
  return { localStartTime: local.toISOString().slice(11, 23), weekday: local.getUTCDay() || 7 };
}

/**
 * One session row from the session's events (sorted by rule 4), the visitId of
 * its visit, and the identityId stitched to its anonymousId (rule 8).
 */
export function buildRow(events: StoredEvent[], visitId: string, identityId: string | undefined, options: RowOptions = {}): SessionRow {
  const first = events[0];
  const last = events[events.length - 1];
  const all = events.map((s) => s.event);
  const views = all.filter(isView);
  const firstView = views[0] as PageViewEvent | undefined;
  // Each page view's URL is parsed once, for the UTM columns and the click ids.
  const urls = views.map((v) => queryOf(v.url));
  const lastView = views[views.length - 1] as PageViewEvent | undefined;

  // activeTime and user actions are cumulative per page: the largest report of each page counts.
  // Each is within 0..INT_MAX, so their sums stay exact doubles; the columns clamp the sums (docs/sessionizer.md).
  const perPage = new Map<string, { activeTime: number; userActions: number }>();
  for (const e of all.filter(isReport)) {
    const page = perPage.get(e.pageId) ?? { activeTime: 0, userActions: 0 };
    page.activeTime = Math.max(page.activeTime, nonNegative(e.activeTime) ?? 0);
    page.userActions = Math.max(page.userActions, nonNegative(e.userActions) ?? 0);
    perPage.set(e.pageId, page);
  }
  const reports = [...perPage.values()];

  // Navigation timing of the session's first document load (not a route change or a cache restore).
  const load = views.find((v) => v.navigationType !== 'route' && v.navigationType !== 'back_forward_cache');
  const timing = load ? all.filter(isReport).find((e) => e.pageId === load.pageId && nonNegative(e.load) !== null) : undefined;

  const init = splitURL(firstView?.url);
  const exit = splitURL(lastView?.url);
  const referrer = splitURL(firstView?.referrer);
  const external = !!referrer.origin && referrer.origin !== init.origin;
  const offset = offsetMinutes(firstView?.timezoneOffset);
  const firstRequest = (events.find((s) => s.request.ip || s.request.userAgent) ?? first).request;
  const traits = Object.assign({}, ...all.map((e) => (e.type === 'identify' && e.traits) || {})) as Record<string, unknown>;

  return {
    projectId: first.projectId,
    sessionId: cut(first.event.sessionId, 37) ?? '',
    identityId: cut(identityId, 80),
    anonymousId: cut(first.event.anonymousId, 37),
    tags: first.request.cookieless ? [COOKIELESS_TAG] : null,
    deviceId: cut(first.event.deviceId, 37),
    visitId: cut(visitId, 37),
    tabId: cut(first.event.tabId, 37),
    pageId: cut(first.event.pageId, 37),
    sessionStart: new Date(first.time).toISOString(),
    sessionEnd: new Date(last.time).toISOString(),
    duration: int(last.time - first.time) ?? 0,
    activeTime: reports.length ? Math.min(INT_MAX, reports.reduce((n, p) => n + p.activeTime, 0)) : null,
    ...localTime(first.time, offset),
    timezoneOffset: offset === null ? null : int(offset),
    timezoneIANA: cut(firstView?.timezoneIANA, 255),
    clockSkew: int(first.request.receivedAt - first.request.sentAt),
    browserFingerprint: null,
    deviceFingerprint: null,
    ipAddress: truncateIp(firstRequest.ip, options.fullIp),
    ...geo(firstRequest.headers, options.geoHeaders ?? DEFAULT_GEO_HEADERS),
    ...device(firstRequest.userAgent, firstView?.userAgentData, views.some((v) => v.automation === true)),
    maxTouchPoints: smallint(firstView?.maxTouchPoints),
    touch: typeof firstView?.maxTouchPoints === 'number' ? firstView.maxTouchPoints > 0 : null,
    screenWidth: smallint(firstView?.screenWidth),
    screenHeight: smallint(firstView?.screenHeight),
    ...language(firstView?.language),
    translatedLanguage: null,
    utmCampaign: distinct(views, urls, 'utmCampaign'),
    utmMedium: distinct(views, urls, 'utmMedium'),
    utmSource: distinct(views, urls, 'utmSource'),
    utmTerm: distinct(views, urls, 'utmTerm'),
    utmContent: distinct(views, urls, 'utmContent'),
    clickIds: clickIdsOf(views, urls),
    referrerURLOrigin: external ? referrer.origin : null,
    referrerURLPath: external ? referrer.path : null,
    referrerURLSearchParams: external ? referrer.searchParams : null,
    initTitle: cut(firstView?.title, 128),
    initURLOrigin: init.origin,
    initURLPath: init.path,
    initURLSearchParams: init.searchParams,
    exitTitle: cut(lastView?.title, 128),
    exitURLOrigin: exit.origin,
    exitURLPath: exit.path,
    exitURLSearchParams: exit.searchParams,
    // Any reload of the session, not only its first load: a person who reloaded a page reloaded it (docs/sessionizer.md).
    pageReloaded: load ? views.some((v) => v.navigationType === 'reload') : null,
    domInteractive: timing ? nonNegative(timing.domInteractive) : null,
    domContentLoaded: timing ? nonNegative(timing.domContentLoaded) : null,
    load: timing ? nonNegative(timing.load) : null,
    userActionsCount: Math.min(INT_MAX, reports.reduce((n, p) => n + p.userActions, 0)),
    pageViewsCount: Math.min(INT_MAX, views.length),
    traits: Object.keys(traits).length ? traits : null,
    sdkVersion: cut(first.request.sdk, 32),
  };
}

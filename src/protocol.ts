/**
 * The wire protocol, version 1: the one definition of what the browser sends and
 * the collector accepts. `src/client/` and `src/server/` both import this file and
 * nothing else from each other. docs/protocol.md describes it for people.
 */

export const PROTOCOL_VERSION = 1;

/** One request body is at most this many bytes: the sendBeacon / fetch keepalive limit. */
export const MAX_REQUEST_BYTES = 65536;

/** The IDs every event carries (model.md, "The IDs"). */
export interface EventIds {
  deviceId: string;
  anonymousId: string;
  /** Present once `identify()` was called, until `reset()`. */
  identityId?: string;
  visitId: string;
  sessionId: string;
  tabId: string;
  pageId: string;
}

interface EventBase extends EventIds {
  /** Unique per event (nanoid): the collector's dedupe key. Never changes on retry. */
  id: string;
  /** Client clock, epoch ms, when the event happened. Never changes on retry. */
  ts: number;
  /** Per-tab counter, survives reloads of the tab: orders events of the same ms. */
  seq: number;
}

/**
 * How the page view came to be. `navigate`, `reload`, `back_forward` and
 * `prerender` come from the Navigation Timing entry of a document load;
 * `back_forward_cache` is a restore from the back/forward cache (pageshow persisted);
 * `route` is a same-document route change of a single-page app (history or hash).
 */
export type NavigationType =
  | 'navigate'
  | 'reload'
  | 'back_forward'
  | 'prerender'
  | 'back_forward_cache'
  | 'route';

/** UTM parameters of the page URL, named after the atomic.session columns. */
export interface Utm {
  utmSource?: string;
  utmMedium?: string;
  utmCampaign?: string;
  utmTerm?: string;
  utmContent?: string;
  utmId?: string;
}

/** Low-entropy User-Agent Client Hints (navigator.userAgentData), where the browser has them. */
export interface UserAgentData {
  brands: { brand: string; version: string }[];
  mobile: boolean;
  platform: string;
}

/** Context of a page view: everything that does not change within the page. */
export interface PageContext extends Utm {
  url: string;
  title: string;
  /** document.referrer for a document load; the previous page's URL for a route change. */
  referrer?: string;
  navigationType: NavigationType;
  screenWidth?: number;
  screenHeight?: number;
  maxTouchPoints?: number;
  /** navigator.language as the browser gives it ("en-GB"); the server splits it. */
  language?: string;
  timezoneIANA?: string;
  /** Minutes east of UTC (the opposite sign of Date#getTimezoneOffset). */
  timezoneOffset?: number;
  /** Click ids found in the URL (gclid, fbclid, msclkid, ...), by parameter name. */
  clickIds?: Record<string, string>;
  userAgentData?: UserAgentData;
  /** navigator.webdriver: automation traffic is tagged, never dropped. */
  automation?: true;
}

/** Navigation timing of a document load, ms from the start of the navigation (or activation). */
export interface NavigationTiming {
  domInteractive: number;
  domContentLoaded: number;
  load: number;
}

export interface PageViewEvent extends EventBase, PageContext {
  type: 'page_view';
}

/**
 * Sent each time the page is hidden or left, and on a route change for the page
 * being left. activeTime is cumulative for the page: the collector keeps the
 * largest value per pageId. Not an activity: it never extends a visit.
 */
export interface PageLeaveEvent extends EventBase, Partial<NavigationTiming> {
  type: 'page_leave';
  activeTime: number;
  /** Clicks and key presses on the page so far (userActionsCount). */
  userActions: number;
}

/** Periodic report of the page's cumulative activeTime while it is in use. Not an activity. */
export interface PagePingEvent extends EventBase, Partial<NavigationTiming> {
  type: 'page_ping';
  activeTime: number;
  userActions: number;
}

export interface TrackEvent extends EventBase {
  type: 'track';
  name: string;
  properties?: Record<string, unknown>;
}

export interface IdentifyEvent extends EventBase {
  type: 'identify';
  identityId: string;
  traits?: Record<string, unknown>;
}

export type WireEvent = PageViewEvent | PageLeaveEvent | PagePingEvent | TrackEvent | IdentifyEvent;
export type EventType = WireEvent['type'];

/** Every event type of version 1. */
export const EVENT_TYPES: readonly EventType[] = ['page_view', 'page_leave', 'page_ping', 'track', 'identify'];

/** Event types that are not activity (model.md): they never start or extend a visit. */
export const PASSIVE_EVENT_TYPES: readonly EventType[] = ['page_leave', 'page_ping'];

/** One request body. */
export interface Batch {
  v: typeof PROTOCOL_VERSION;
  projectId?: number | string;
  /** Client clock when this attempt was sent: set anew on every attempt. */
  sentAt: number;
  /** The SDK's version, for the session row. */
  sdk?: string;
  /** Events the client dropped since its last report (queue limits, age, refusals), first body only. */
  dropped?: number;
  events: WireEvent[];
}

/** Click-id URL parameters kept on a page view (ad platforms' auto-tagging). */
export const CLICK_ID_PARAMS: readonly string[] = [
  // Google Ads (web, iOS app-to-web), Campaign Manager, Meta, Microsoft Ads, TikTok, X, LinkedIn, Yandex, Reddit
  'gclid', 'gbraid', 'wbraid', 'dclid', 'fbclid', 'msclkid', 'ttclid', 'twclid', 'li_fat_id', 'yclid', 'rdt_cid',
];

/**
 * One page view of a visit, as the collector's GET /visits/:visitId answers it
 * (docs/collector.md) and the sessions page draws it.
 */
export interface VisitPage {
  pageId: string;
  tabId: string;
  sessionId: string;
  url: string;
  title: string | null;
  navigationType: string | null;
  /** The page view's time, ISO 8601. */
  start: string;
  /** The page's last event time, ISO 8601. */
  end: string;
  /** The largest activeTime the page reported (page_ping, page_leave), ms; null before its first report. */
  activeTime: number | null;
}

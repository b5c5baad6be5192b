/**
 * The wire protocol, version 1: the one definition of what the browser sends and
 * the collector accepts. `src/client/` and `src/server/` both import this file and
 * nothing else from each other. docs/protocol.md describes it for people.
 */

export const PROTOCOL_VERSION = 1;

/** One request body is at most this many bytes: the sendBeacon / fetch keepalive limit. */
export const MAX_REQUEST_BYTES = 65536;

/**
 * The longest string, in UTF-16 code units, that each field keeps. The client cuts
 * what it sends to these (`cut`, never inside a character); the collector stores a
 * longer value cut the same way and never refuses a batch for its length
 * (docs/protocol.md, "Limits"). IDs are the exception: an ID over `id` is refused,
 * since cutting two IDs could make them equal.
 */
export const LIMITS = {
  id: 64,
  identityId: 256,
  /** An event type's name (the collector's atomic.events.type column): like an ID, refused when longer. */
  type: 16,
  navigationType: 32,
  url: 8192,
  title: 2048,
  referrer: 8192,
  language: 64,
  timezoneIANA: 255,
  utm: 512,
  clickId: 512,
  name: 256,
  sdk: 64,
  brand: 128,
  brandVersion: 64,
  platform: 64,
} as const;

/** `value` cut to at most `max` UTF-16 code units, never between the two halves of a surrogate pair. */
export function cut(value: string, max: number): string {
  if (value.length <= max) return value;
  const last = value.charCodeAt(max - 1);
  return value.slice(0, last >= 0xd800 && last < 0xdc00 ? max - 1 : max);
}

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

/** The ID fields of an event, in the order of model.md. */
export type IdField = keyof EventIds;
export const ID_FIELDS: readonly IdField[] = ['deviceId', 'anonymousId', 'identityId', 'visitId', 'sessionId', 'tabId', 'pageId'];

/**
 * An event as it travels: an ID that the batch carries at its top may be left
 * out of the event (`expandEvents` puts it back). Every WireEvent is a SentEvent.
 */
export type SentEvent = WireEvent extends infer E ? (E extends WireEvent ? Omit<E, IdField> & Partial<EventIds> : never) : never;

/**
 * One request body. An ID that every event of the batch shares may travel once,
 * at the top of the batch under the same name; an event's own value wins.
 */
export interface Batch extends Partial<EventIds> {
  v: typeof PROTOCOL_VERSION;
  projectId?: number | string;
  /** Client clock when this attempt was sent: set anew on every attempt. */
  sentAt: number;
  /** The SDK's version, for the session row. */
  sdk?: string;
  /** Events the client dropped since its last report (queue limits, age, refusals), first body only. */
  dropped?: number;
  /** A batch of a cookieless tracker: no deviceId, anonymousId, visitId or sessionId; the collector derives the device. */
  cookieless?: true;
  events: SentEvent[];
}

/**
 * The batch's events with the IDs it carries at its top put back into each
 * event that lacks them (the event's own value wins): what the collector stores
 * and sessionizes. Returns the batch's own array when nothing is shared.
 */
export function expandEvents(batch: Batch): WireEvent[] {
  const shared = ID_FIELDS.filter((field) => batch[field] !== undefined);
  if (!shared.length) return batch.events as WireEvent[];
  return batch.events.map((event) => {
    const out: Record<string, unknown> = { ...event };
    for (const field of shared) out[field] ??= batch[field];
    return out as unknown as WireEvent;
  });
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

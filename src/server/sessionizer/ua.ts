import { UAParser } from 'ua-parser-js';
import type { UserAgentData } from '../../protocol';
import { cut, INT_MAX } from './columns';

/** Common crawlers, previews and headless browsers (the client's automation flag catches the rest). */
const BOT = /bot\b|crawl|spider|slurp|headless|lighthouse|pagespeed|preview|facebookexternalhit|embedly|quora link|bingpreview|phantomjs|puppeteer|playwright/i;

/**
 * Parsing a User-Agent costs tens of microseconds and a site sees few distinct
 * ones, while the engine rebuilds a device's rows on every request: cache them.
 */
const parsed = new Map<string, UAParser.IResult>();
function parse(userAgent: string): UAParser.IResult {
  let result = parsed.get(userAgent);
  if (!result) {
    if (parsed.size >= 5000) parsed.clear();
    result = new UAParser(userAgent).getResult();
    parsed.set(userAgent, result);
  }
  return result;
}

/** Brands of the client hints that name no browser (Chromium's GREASE "Not A;Brand" and the engine). */
const NOT_A_BROWSER = /not.?a.?brand|chromium/i;

/**
 * The device columns of a session from the User-Agent string, parsed by
 * ua-parser-js 1.x (MIT; 2.x is AGPL), refined by the low-entropy client hints
 * where the browser sent them (Chromium's User-Agent is frozen: the hints carry
 * the real brand and major version).
 */
export function device(userAgent: string | undefined, hints: Partial<UserAgentData> | undefined, automation: boolean) {
  const ua = typeof userAgent === 'string' ? userAgent : '';
  const r = parse(ua);
  // The hints come from the body: any part may be missing or of another shape (sessionize reads unchecked input).
  const brands = Array.isArray(hints?.brands) ? hints.brands : [];
  const brand = brands.find((b) => typeof b?.brand === 'string' && !NOT_A_BROWSER.test(b.brand));
  const type = r.device.type ?? (hints?.mobile === true ? 'mobile' : undefined);
  const bot = automation || BOT.test(ua);
  return {
    userAgent: cut(userAgent, 160),
    browserName: cut(brand?.brand ?? r.browser.name, 32),
    browserVersion: major(typeof brand?.version === 'string' ? brand.version : r.browser.major),
    engineName: cut(r.engine.name, 24),
    osName: cut(r.os.name ?? (typeof hints?.platform === 'string' ? hints.platform : undefined), 24),
    osVersion: cut(r.os.version, 24),
    deviceCategory: bot ? 'bot' : type === 'mobile' || type === 'tablet' ? type : type === 'smarttv' ? 'tv' : type ? 'other' : 'desktop',
    deviceVendor: cut(r.device.vendor, 24),
    deviceType: cut(type, 24),
    deviceModel: cut(r.device.model, 32),
    isBot: bot,
  };
}

/**
 * browserVersion (integer): the leading digits of a version ("131.0.6778" -> 131),
 * null when there are none or they exceed the column (`Chrome/99999999999.0` is
 * no browser's version: NULL, not a clamped 2 147 483 647).
 */
function major(version: string | undefined): number | null {
  const digits = /^\s*(\d{1,10})(?!\d)/.exec(version ?? '');
  const n = digits ? Number(digits[1]) : NaN;
  return n <= INT_MAX ? n : null;
}

/** Helpers that turn event fields into atomic.session column values. */

/** varchar(n): longer text is cut, never rejected (model.md). Code points are kept whole. */
export function cut(value: unknown, n: number): string | null {
  if (value === undefined || value === null || value === '') return null;
  const text = String(value);
  if (text.length <= n) return text;
  const chars = Array.from(text);
  return chars.length <= n ? text : chars.slice(0, n).join('');
}

/** smallint: out-of-range or non-integer values are null. */
export function smallint(value: unknown): number | null {
  // `+ 0` makes -0 a 0: the database has no negative zero, so a row read back would differ.
  return typeof value === 'number' && Number.isInteger(value) && value >= -32768 && value <= 32767 ? value + 0 : null;
}

/** The integer column's range (PostgreSQL's int4). */
export const INT_MAX = 2_147_483_647;
const INT_MIN = -2_147_483_648;

/**
 * integer: rounded, clamped to the column's range (a sum or a difference past it
 * is stored as the bound, not refused); never -0 (Math.round(-0.4) is -0, and the
 * database has no -0). Not a number, or NaN: null. Infinity is the bound.
 */
export function int(value: unknown): number | null {
  if (typeof value !== 'number' || Number.isNaN(value)) return null;
  return Math.max(INT_MIN, Math.min(INT_MAX, Math.round(value))) + 0;
}

/** A duration or count reported by the client (ms, clicks): a finite number of at least 0, else null; at most INT_MAX. */
export function nonNegative(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return null;
  return Math.min(INT_MAX, Math.round(value)) + 0;
}

/** Minutes east of UTC: a finite number from -1440 to 1440 (a day either way), else null. */
export function offsetMinutes(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= 1440 ? value + 0 : null;
}

export interface SplitURL {
  origin: string | null;
  path: string | null;
  searchParams: Record<string, string> | null;
}

const NO_URL: SplitURL = Object.freeze({ origin: null, path: null, searchParams: null });

/**
 * A URL as origin (varchar 255), path (varchar 255) and search params (jsonb);
 * nulls for what is missing or unparsable. The result is frozen and shared.
 */
export function splitURL(url: unknown): SplitURL {
  if (typeof url !== 'string' || !url) return NO_URL;
  return memo(splitCache, url, () => {
    const u = parseURL(url);
    if (!u) return NO_URL;
    const params = Object.freeze(Object.fromEntries([...u.searchParams].map(([k, v]) => [noNul(k), noNul(v)])));
    return Object.freeze({
      origin: cut(u.origin === 'null' ? `${u.protocol}//${u.host}` : u.origin, 255),
      path: cut(u.pathname, 255),
      searchParams: Object.keys(params).length ? params : null,
    });
  });
}

/** A URL's query parameters with lower-cased names, first value of each; empty when unparsable. Shared: do not change it. */
export function queryOf(url: unknown): ReadonlyMap<string, string> {
  if (typeof url !== 'string' || !url) return NO_PARAMS;
  return memo(queryCache, url, () => {
    const out = new Map<string, string>();
    parseURL(url)?.searchParams.forEach((value, key) => out.has(noNul(key).toLowerCase()) || out.set(noNul(key).toLowerCase(), noNul(value)));
    return out;
  });
}

const NO_PARAMS: ReadonlyMap<string, string> = new Map();

/**
 * A decoded query parameter with U+0000 as U+FFFD. The collector replaces NUL in
 * what it receives, but `%00` in a URL only becomes a NUL when decoded here, and
 * PostgreSQL's text and jsonb refuse it (found by the collector's fuzz test).
 * Decoding replaces invalid UTF-8, so no lone surrogate can appear.
 */
export const noNul = (s: string): string => (s.includes('\u0000') ? s.replaceAll('\u0000', '\ufffd') : s);

function parseURL(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * Parsing a URL costs microseconds, a site has far fewer distinct page URLs than
 * page views, and the engine rebuilds a session's row as its events come: the
 * parsed forms are kept, a bounded number (the cache starts over when full).
 */
const splitCache = new Map<string, SplitURL>();
const queryCache = new Map<string, ReadonlyMap<string, string>>();
const MEMO_LIMIT = 20_000;

export function memo<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= MEMO_LIMIT) cache.clear();
    value = make();
    cache.set(key, value);
  }
  return value;
}

/** The common case, a plain IPv4 address (each part 0-255): its first three parts. */
const DOTTED = /^((?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){2}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Truncates an IP address: /24 for IPv4 (1.2.3.4 -> 1.2.3.0), /48 for IPv6
 * (2001:db8:1:2::5 -> 2001:db8:1::). IPv4-mapped IPv6 is treated as IPv4.
 * Returns null for anything that is not an IP address, and the address as the
 * inet column gives it back (PostgreSQL's text form: "::1", not "0:0:0:0:0:0:0:1";
 * "1.2.3.4", not "01.2.3.4"), so that a row compares equal once stored (found by
 * the collector's fuzz test).
 */
export function truncateIp(ip: string | undefined, full = false): string | null {
  if (!ip) return null;
  const v4Tail = DOTTED.exec(ip);
  if (v4Tail && !full) return `${v4Tail[1]}.0`;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const v4 = mapped ? mapped[1] : ip;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(v4)) {
    const parts = v4.split('.').map(Number);
    if (parts.some((p) => p > 255)) return null;
    return full ? parts.join('.') : `${parts[0]}.${parts[1]}.${parts[2]}.0`;
  }
  const groups = expandIpv6(ip);
  if (!groups) return null;
  return ipv6Text(full ? groups : [...groups.slice(0, 3), 0, 0, 0, 0, 0]);
}

/**
 * An IPv6 address as PostgreSQL writes an inet (its inet_net_ntop, after BIND's):
 * the first longest run of two or more zero groups as "::", and an IPv4-compatible
 * or IPv4-mapped address with its last 32 bits dotted.
 */
function ipv6Text(words: number[]): string {
  let base = -1;
  let len = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > len) [base, len] = [i, j - i];
    i = j;
  }
  if (len < 2) return words.map((w) => w.toString(16)).join(':');
  const hex = (from: number, to: number) => words.slice(from, to).map((w) => w.toString(16)).join(':');
  if (base === 0 && (len === 6 || (len === 5 && words[5] === 0xffff))) {
    const dotted = [words[6] >> 8, words[6] & 255, words[7] >> 8, words[7] & 255].join('.');
    return len === 6 ? `::${dotted}` : `::ffff:${dotted}`;
  }
  return `${hex(0, base)}::${hex(base + len, 8)}`;
}

function expandIpv6(ip: string): number[] | undefined {
  if (!/^[0-9a-f:]+$/i.test(ip) || ip.split('::').length > 2) return undefined;
  const [head, tail] = ip.split('::');
  const parse = (part: string) => (part ? part.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const missing = 8 - h.length - t.length;
  if ((tail === undefined && missing !== 0) || missing < 0 || [...h, ...t].some(Number.isNaN)) return undefined;
  return [...h, ...Array(missing).fill(0), ...t];
}

/** Where the geo columns come from: the first present header of each list (lower-case names). */
export interface GeoHeaders {
  country: readonly string[];
  region: readonly string[];
  city: readonly string[];
}

/**
 * The location headers each CDN or platform sets (and overwrites, so that a
 * client cannot choose them): Cloudflare's visitor location headers, Vercel's,
 * CloudFront's viewer headers. The collector believes only those its config names.
 */
export const GEO_HEADER_PRESETS = {
  cloudflare: { country: ['cf-ipcountry'], region: ['cf-region-code'], city: ['cf-ipcity'] },
  vercel: { country: ['x-vercel-ip-country'], region: ['x-vercel-ip-country-region'], city: ['x-vercel-ip-city'] },
  cloudfront: { country: ['cloudfront-viewer-country'], region: ['cloudfront-viewer-country-region'], city: ['cloudfront-viewer-city'] },
} as const satisfies Record<string, GeoHeaders>;

/**
 * What the sessionizer reads when not told (`sessionize`, whose input is a
 * collector's own log): the presets' headers and Fastly-style x-* names.
 */
export const DEFAULT_GEO_HEADERS: GeoHeaders = {
  country: ['cf-ipcountry', 'x-vercel-ip-country', 'cloudfront-viewer-country', 'x-country-code'],
  region: ['x-vercel-ip-country-region', 'cloudfront-viewer-country-region', 'cf-region-code', 'x-region-code'],
  city: ['x-vercel-ip-city', 'cloudfront-viewer-city', 'cf-ipcity', 'x-city'],
};

export function geo(headers: Record<string, string | undefined> | undefined, names: GeoHeaders) {
  const first = (list: readonly string[]) => {
    for (const name of list) {
      const value = headers?.[name];
      if (typeof value === 'string' && value) {
        let decoded = value;
        try {
          decoded = decodeURIComponent(value); // Vercel URI-encodes city names
        } catch {
          // not URI-encoded: the value as sent
        }
        // "%00" decodes to a NUL, which PostgreSQL's text refuses (docs/sessionizer.md); decoding makes no lone surrogate.
        return noNul(decoded);
      }
    }
    return undefined;
  };
  const country = first(names.country);
  return {
    countryCode: cut(country && country !== 'XX' ? country.toUpperCase() : null, 4),
    region: cut(first(names.region), 32),
    city: cut(first(names.city), 32),
  };
}

/** "en-GB" -> { requestedLanguage: "en", requestedRegion: "GB" }; varchar(2) each. */
export function language(tag: unknown) {
  const match = /^([a-z]{2,3})(?:-[A-Za-z]{4})?(?:-([A-Za-z]{2}|\d{3}))?/i.exec(typeof tag === 'string' ? tag : '');
  return {
    requestedLanguage: match && match[1].length === 2 ? match[1].toLowerCase() : null,
    requestedRegion: match?.[2] && match[2].length === 2 ? match[2].toUpperCase() : null,
  };
}

import type { FastifyRequest } from 'fastify';
import { LIMITS, cut, type Batch } from '../../protocol';
import { cut as cutCodePoints, GEO_HEADER_PRESETS, truncateIp, type GeoHeaders } from '../sessionizer/columns';
import type { RequestMeta } from '../sessionizer/request';
import type { CollectorConfig } from './config';
import { storableText } from './sanitize';

/**
 * What the collector keeps of a request besides its body (docs/collector.md,
 * "Privacy"): the IP address (truncated unless the project keeps it whole), the
 * User-Agent (cut to its column), and the location headers of the proxy the
 * config trusts, nothing else.
 */

/** A geo header's value is kept to this many characters (the widest geo column is 32). */
const GEO_HEADER_LIMIT = 128;

/** No header is believed: the geo columns stay null. */
const NO_GEO: GeoHeaders = Object.freeze({ country: [], region: [], city: [] });

/**
 * The location headers the config says a proxy sets (config.ts, `geoHeaders`):
 * a preset by the CDN's name, or lists of header names. A client may send any
 * header, so by default none is believed.
 */
export function geoHeadersOf(setting: CollectorConfig['geoHeaders']): GeoHeaders {
  if (setting === undefined) return NO_GEO;
  if (typeof setting === 'string') return GEO_HEADER_PRESETS[setting];
  const lower = (names: readonly string[] | undefined) => (names ?? []).map((n) => n.toLowerCase());
  return { country: lower(setting.country), region: lower(setting.region), city: lower(setting.city) };
}

/**
 * The request as stored with each of its events (atomic.events.request). Every
 * string is storable: a header can hold what PostgreSQL refuses (a NUL, through
 * a proxy or a test harness), and an address that is not one is not kept. A
 * cookieless batch's IP is not kept at all, not even truncated (docs/privacy.md):
 * its only use is the derived device (./cookieless.ts).
 */
export function requestMeta(
  request: Pick<FastifyRequest, 'headers' | 'ip'>,
  { receivedAt, batch, fullIp, geoHeaders }: { receivedAt: number; batch: Batch; fullIp: boolean; geoHeaders: GeoHeaders },
): RequestMeta {
  const headers: Record<string, string> = {};
  for (const name of [...geoHeaders.country, ...geoHeaders.region, ...geoHeaders.city]) {
    const value = request.headers[name];
    if (typeof value === 'string' && value) headers[name] = cut(storableText(value), GEO_HEADER_LIMIT);
  }
  const userAgent = request.headers['user-agent'];
  const cookieless = batch.cookieless === true;
  return {
    receivedAt,
    sentAt: batch.sentAt,
    ip: cookieless ? undefined : (truncateIp(request.ip, fullIp) ?? undefined),
    userAgent: typeof userAgent === 'string' ? (cutCodePoints(storableText(userAgent), 160) ?? undefined) : undefined,
    headers,
    sdk: typeof batch.sdk === 'string' ? cut(batch.sdk, LIMITS.sdk) : undefined,
    ...(cookieless ? { cookieless: true as const } : {}),
  };
}

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/**
 * The collector's projects and limits (docs/collector.md): a JSON file given
 * with `--config`, checked on start, with a clear message for what is wrong.
 */

const Project = Type.Object(
  {
    /** atomic.session's projectId: the batches' `projectId`. */
    id: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }),
    name: Type.Optional(Type.String()),
    /** Origins whose pages may send beacons ("https://shop.example"), or "*" for any. Requests without an Origin header (servers, curl) are not limited by it. */
    origins: Type.Array(Type.String()),
    /** Hashes of the bearer tokens that read this project's sessions: "sha256:<hex>" (`sessionbeacon token` makes one). */
    readTokens: Type.Array(Type.String({ pattern: '^sha256:[0-9a-f]{64}$' })),
    /** Store whole IP addresses (default: /24 for IPv4, /48 for IPv6, truncated before storing). */
    fullIp: Type.Optional(Type.Boolean()),
    /** Events accepted per minute for this project, from all its visitors (default 60 000). */
    eventsPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

const HeaderNames = Type.Array(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), { maxItems: 16 });

const ConfigSchema = Type.Object(
  {
    projects: Type.Array(Project, { minItems: 1 }),
    /** Requests per minute from one IP address (default 1 200). */
    requestsPerMinutePerIp: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Behind a proxy: take the client IP from X-Forwarded-For (fastify's trustProxy: true, a hop count or addresses). */
    trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.Integer({ minimum: 1 }), Type.String()])),
    /**
     * The proxy in front that sets the visitor's location headers, whose values
     * are then believed: "cloudflare", "vercel", "cloudfront", or the header
     * names of each column. Default none: a client can send any header, so
     * without this the geo columns stay null.
     */
    geoHeaders: Type.Optional(
      Type.Union([
        Type.Literal('cloudflare'),
        Type.Literal('vercel'),
        Type.Literal('cloudfront'),
        Type.Object({ country: Type.Optional(HeaderNames), region: Type.Optional(HeaderNames), city: Type.Optional(HeaderNames) }, { additionalProperties: false }),
      ]),
    ),
    /** ms a request may take to arrive whole, headers and body (default 10 000): then 408 and the connection is closed. */
    requestTimeout: Type.Optional(Type.Integer({ minimum: 1 })),
    /** ms a request's headers may take to arrive (default 5 000, at most requestTimeout): then 408 and closed. */
    headersTimeout: Type.Optional(Type.Integer({ minimum: 1 })),
    /** ms an idle keep-alive connection stays open between requests (default 5 000). */
    keepAliveTimeout: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Open connections at most (default 1 000); more are closed at once. Keep it under the process's open-file limit. */
    maxConnections: Type.Optional(Type.Integer({ minimum: 1 })),
    /** A visit ends after this much inactivity, ms (default 30 minutes). */
    inactivity: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Devices idle this long (ms) are dropped from memory and reloaded from the database when they come back (default 1 h). */
    horizon: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Memory for devices' events and sessions, MB as estimated (default 32; docs/scaling.md): past it the least recently written are forgotten. */
    cacheMegabytes: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** The defaults of the config's limits and timeouts (docs/collector.md, "Limits and timeouts"). */
export const DEFAULT_LIMITS = {
  requestsPerMinutePerIp: 1200,
  eventsPerMinute: 60_000,
  requestTimeout: 10_000,
  headersTimeout: 5_000,
  keepAliveTimeout: 5_000,
  maxConnections: 1000,
} as const;

export type ProjectConfig = Static<typeof Project>;
export type CollectorConfig = Static<typeof ConfigSchema>;

const check = TypeCompiler.Compile(ConfigSchema);

/** A config object checked; throws with the first problem and where it is. */
export function parseConfig(value: unknown, where = 'config'): CollectorConfig {
  const error = check.Errors(value).First();
  if (error) throw new Error(`${where}${error.path}: ${error.message}`);
  const config = value as CollectorConfig;
  if ((config.headersTimeout ?? DEFAULT_LIMITS.headersTimeout) > (config.requestTimeout ?? DEFAULT_LIMITS.requestTimeout))
    throw new Error(`${where}/headersTimeout: must be at most requestTimeout`);
  const ids = new Set<number>();
  for (const p of config.projects) {
    if (ids.has(p.id)) throw new Error(`${where}: project ${p.id} is listed twice`);
    ids.add(p.id);
  }
  return config;
}

export function readConfig(path: string): CollectorConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
  return parseConfig(value, path);
}

/** What a config keeps of a token: its SHA-256 (a token is random, so no salt or slow hash is needed). */
export const hashToken = (token: string): string => `sha256:${createHash('sha256').update(token).digest('hex')}`;

/** A new random read token (32 bytes, base64url). */
export const newToken = (): string => randomBytes(32).toString('base64url');

/**
 * The config of `serve` without `--config` (and of `npm start`): one project, 1,
 * any origin, and a read token made up for this run.
 */
export function exampleConfig(token: string): CollectorConfig {
  return { projects: [{ id: 1, name: 'example', origins: ['*'], readTokens: [hashToken(token)] }] };
}

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import secureJson from 'secure-json-parse';
import { expandEvents, MAX_REQUEST_BYTES, type Batch, type WireEvent } from '../../protocol';
import { cut, DEFAULT_GEO_HEADERS, truncateIp } from '../sessionizer/columns';
import type { RequestMeta, StoredEvent } from '../sessionizer/request';
import type { CollectorConfig, ProjectConfig } from './config';
import type { Database } from './database';
import { ProjectLimits } from './limits';
import { TooDeep, storable } from './sanitize';
import { batchProblem } from './schema';
import { readRoutes } from './reads';
import { Refusal } from './refusal';
import { Writer } from './writer';

export interface CollectorOptions {
  db: Database;
  config: CollectorConfig;
  /** URL prefix -> folder served as static files (npm start: the examples and the built script). */
  staticRoots?: Record<string, string>;
  /** The built sessions page (dist/dashboard/), served at / unless a static root takes /. */
  dashboard?: string;
  /** fastify's logger option: false in tests, pino's options otherwise. */
  logger?: FastifyServerOptions['logger'];
  /** The server clock (tests). */
  now?: () => number;
}

/** An event stamped further in the past than this, relative to its batch's sentAt, is not stored (a broken clock or a replay). */
export const MAX_EVENT_AGE = 30 * 24 * 3_600_000;
/** Objects and arrays nested deeper than this are refused: no event needs it. */
export const MAX_DEPTH = 16;
const GEO_HEADER_NAMES = [...DEFAULT_GEO_HEADERS.country, ...DEFAULT_GEO_HEADERS.region, ...DEFAULT_GEO_HEADERS.city];

/**
 * The reference collector as a fastify app (docs/collector.md): POST /collect,
 * GET /sessions, GET /healthz, and static files for `npm start`.
 */
export async function createCollector(options: CollectorOptions): Promise<{ app: FastifyInstance; writer: Writer }> {
  const { db, config } = options;
  const now = options.now ?? Date.now;
  const projects = new Map(config.projects.map((p) => [p.id, p]));
  const anyOrigin = config.projects.some((p) => p.origins.includes('*'));
  const origins = new Set(config.projects.flatMap((p) => p.origins));
  const limits = new ProjectLimits(now);
  // The engine stores what the collector gives it: IPs are truncated (or not) per project before that.
  const writer = new Writer(db, { inactivity: config.inactivity, horizon: config.horizon ?? 3_600_000, cacheBytes: config.cacheMegabytes === undefined ? undefined : config.cacheMegabytes * 2 ** 20, fullIp: true, now });

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: MAX_REQUEST_BYTES,
    // fastify takes a hop count too (its types omit it).
    trustProxy: (config.trustProxy ?? false) as boolean,
    // Schemas are TypeBox's, checked in the routes: nothing is coerced or stripped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });

  // sendBeacon sends text/plain; both types are the same JSON. "__proto__" and "constructor.prototype" keys are refused (400).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, secureJson.parse(body as string, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      done(new Refusal(400, `the body is not usable JSON: ${(error as Error).message}`), undefined);
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; headers?: Record<string, string> }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(status).header('retry-after', '5').send({ error: 'the collector could not store this request; try again' });
    }
    for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
    return reply.code(status).send({ error: error.message });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` }));

  // CORS. /collect answers every origin, so that a page of a project that does not
  // allow it reads the 403 and drops its events instead of retrying forever (the
  // answer holds nothing secret; the project's origin list is enforced in the
  // route). Everything else answers only the configured origins.
  const shared = { methods: ['GET', 'POST'], allowedHeaders: ['content-type', 'authorization'], exposedHeaders: ['retry-after'], maxAge: 600 };
  await app.register(cors, {
    hook: 'onRequest',
    delegator: (request, callback) => {
      const origin = request.headers.origin;
      const open = request.url === '/collect' || request.url.startsWith('/collect?');
      callback(null, { ...shared, origin: !origin ? false : open || anyOrigin || origins.has(origin) ? origin : false });
    },
  });
  await app.register(rateLimit, {
    max: config.requestsPerMinutePerIp ?? 1200,
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) => ({ statusCode: 429, error: `too many requests from this address; try again in ${Math.ceil(context.ttl / 1000)} s` }),
  });

  app.post('/collect', async (request, reply) => {
    const batch = checkedBatch(request.body);
    const project = projectOf(batch, projects);
    const origin = request.headers.origin;
    if (origin && !project.origins.includes('*') && !project.origins.includes(origin))
      throw new Refusal(403, `origin ${origin} may not send to project ${project.id}`);
    const wait = limits.take(project.id, batch.events.length, project.eventsPerMinute ?? 60_000);
    if (wait) throw new Refusal(429, `project ${project.id} is over its event rate; try again in ${wait} s`, { 'retry-after': String(wait) });

    const receivedAt = now();
    const headers: Record<string, string> = {};
    for (const name of GEO_HEADER_NAMES) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value.slice(0, 128);
    }
    const meta: RequestMeta = {
      receivedAt,
      sentAt: batch.sentAt,
      ip: (project.fullIp ? request.ip : truncateIp(request.ip)) ?? undefined,
      userAgent: cut(request.headers['user-agent'], 160) ?? undefined,
      headers,
      sdk: batch.sdk,
    };
    const events: StoredEvent[] = [];
    let stale = 0;
    for (const event of expandEvents(batch)) {
      if (batch.sentAt - event.ts > MAX_EVENT_AGE) {
        stale++;
        continue;
      }
      const stored = storedForm(event, batch.sentAt);
      events.push({ projectId: project.id, event: stored, time: receivedAt - (batch.sentAt - stored.ts), request: meta });
    }
    const result = await writer.write(events);
    return reply.code(200).send({ ...result, stale });
  });

  readRoutes(app, { db, projects: config.projects, now });

  app.get('/healthz', async (_request, reply: FastifyReply) => {
    try {
      await db.query('SELECT 1');
      return { ok: true, database: db.kind, ...writer.stats };
    } catch {
      return reply.code(503).send({ ok: false, database: db.kind });
    }
  });

  const roots = { ...(options.dashboard ? { '/': options.dashboard } : {}), ...options.staticRoots };
  let decorate = true;
  for (const [prefix, root] of Object.entries(roots)) {
    await app.register(fastifyStatic, { root, prefix, decorateReply: decorate, index: ['index.html'] });
    decorate = false;
  }

  app.addHook('onClose', async () => writer.close());
  return { app, writer };
}

/** The parsed body as a batch, or a 400 that says what is wrong and where. */
function checkedBatch(body: unknown): Batch {
  let value: unknown;
  try {
    value = storable(body, MAX_DEPTH);
  } catch (error) {
    if (error instanceof TooDeep) throw new Refusal(400, error.message);
    throw error;
  }
  if (value === undefined) throw new Refusal(400, 'a JSON batch is required (Content-Type text/plain or application/json)');
  const problem = batchProblem(value);
  if (problem) throw new Refusal(400, `not a version 1 batch: ${problem}`);
  return value as Batch;
}

/** The batch's project: 400 without one, 404 for one this collector does not know. */
function projectOf(batch: Batch, projects: Map<number, ProjectConfig>): ProjectConfig {
  if (batch.projectId === undefined) throw new Refusal(400, 'projectId is required');
  const id = typeof batch.projectId === 'number' ? batch.projectId : /^\d{1,10}$/.test(batch.projectId) ? Number(batch.projectId) : NaN;
  const project = projects.get(id);
  if (!project) throw new Refusal(404, `unknown project ${JSON.stringify(batch.projectId)}`);
  return project;
}

/**
 * The event as stored: stamped no later than its batch was sent (a clock cannot
 * report an event before it happens; such a stamp is clamped), and a page view's
 * referrer kept only as far as the session columns keep it (origin and path, 255
 * characters each, and the query).
 */
function storedForm(event: WireEvent, sentAt: number): WireEvent {
  const ts = Math.min(event.ts, sentAt);
  if (event.type === 'page_view' && event.referrer) return { ...event, ts, referrer: referrerToStore(event.referrer) };
  return ts === event.ts ? event : { ...event, ts };
}

function referrerToStore(referrer: string): string {
  try {
    const u = new URL(referrer);
    return `${u.origin === 'null' ? `${u.protocol}//${u.host}` : u.origin}`.slice(0, 255) + u.pathname.slice(0, 255) + u.search.slice(0, 1024);
  } catch {
    return cut(referrer, 255) ?? ''; // in code points: a cut emoji would be a lone surrogate, which jsonb refuses
  }
}

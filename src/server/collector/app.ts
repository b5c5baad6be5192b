import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import secureJson from 'secure-json-parse';
import { expandEvents, MAX_REQUEST_BYTES } from '../../protocol';
import { cookielessEvent } from '../sessionizer/cookieless';
import { DEFAULT_INACTIVITY } from '../sessionizer/device';
import type { StoredEvent } from '../sessionizer/request';
import { DEFAULT_LIMITS, type CollectorConfig } from './config';
import { CookielessDevices } from './cookieless';
import type { Database } from './database';
import { addDropped } from './dropped';
import { geoHeadersOf, requestMeta } from './headers';
import { checkedBatch, isStale, projectOf, storedForm } from './intake';
import { ProjectLimits } from './limits';
import { readRoutes } from './reads';
import { Refusal } from './refusal';
import { Salts } from './salts';
import { Writer } from './writer';

export { MAX_DEPTH, MAX_EVENT_AGE } from './intake';

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

/** How often Node looks for requests over their time (its default, 30 s, would let a slow client overstay by that much). */
const TIMEOUT_CHECK_INTERVAL = 1000;
/** How often salts past their use are deleted (salts.ts); none is used past its moment meanwhile (saltDays). */
const SALT_SWEEP_INTERVAL = 60_000;

/**
 * A request as the log shows it: fastify's own fields without the client's
 * address and port (docs/privacy.md: a cookieless request's IP is never stored,
 * and the log is told before the body says whether it is one).
 */
const logRequest = (request: { method: string; url: string; host?: string }) => ({ method: request.method, url: request.url, host: request.host });

/**
 * The reference collector as a fastify app (docs/collector.md): POST /collect,
 * the read routes, GET /healthz, and static files for `npm start`. Wiring only:
 * the rules live in intake.ts (what a batch is and what is stored of it),
 * headers.ts (what is kept of the request), limits.ts and reads.ts.
 */
export async function createCollector(options: CollectorOptions): Promise<{ app: FastifyInstance; writer: Writer }> {
  const { db, config } = options;
  const now = options.now ?? Date.now;
  const projects = new Map(config.projects.map((p) => [p.id, p]));
  const anyOrigin = config.projects.some((p) => p.origins.includes('*'));
  const origins = new Set(config.projects.flatMap((p) => p.origins));
  const limits = new ProjectLimits(now);
  const geoHeaders = geoHeadersOf(config.geoHeaders);
  // The engine stores what the collector gives it: IPs are truncated (or not) per project before that,
  // and only the geo headers the config trusts are kept (headers.ts).
  const writer = new Writer(db, {
    inactivity: config.inactivity,
    horizon: config.horizon ?? 3_600_000,
    cacheBytes: config.cacheMegabytes === undefined ? undefined : config.cacheMegabytes * 2 ** 20,
    fullIp: true,
    geoHeaders,
    now,
  });
  const timeouts = {
    requestTimeout: config.requestTimeout ?? DEFAULT_LIMITS.requestTimeout,
    headersTimeout: config.headersTimeout ?? DEFAULT_LIMITS.headersTimeout,
    keepAliveTimeout: config.keepAliveTimeout ?? DEFAULT_LIMITS.keepAliveTimeout,
  };

  const logger = options.logger ?? false;
  const app = Fastify({
    logger: typeof logger === 'object' ? { ...logger, serializers: { ...logger.serializers, req: logRequest } } : logger,
    bodyLimit: MAX_REQUEST_BYTES,
    // fastify takes a hop count too (its types omit it).
    trustProxy: (config.trustProxy ?? false) as boolean,
    // Slow clients are cut off (docs/collector.md, "Limits and timeouts"): fastify sets these two on the server,
    // Node's http server takes the headers timeout and how often it checks.
    requestTimeout: timeouts.requestTimeout,
    keepAliveTimeout: timeouts.keepAliveTimeout,
    http: { headersTimeout: timeouts.headersTimeout, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL },
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => clientError(error, socket, timeouts),
    // Schemas are TypeBox's, checked in the routes: nothing is coerced or stripped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  // Past this many open connections new ones are closed at once, before they cost a file descriptor for long.
  app.server.maxConnections = config.maxConnections ?? DEFAULT_LIMITS.maxConnections;

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
    max: config.requestsPerMinutePerIp ?? DEFAULT_LIMITS.requestsPerMinutePerIp,
    timeWindow: 60_000,
    // A Refusal, so that the error handler answers it like every other refusal ({ error }); the plugin sets Retry-After.
    errorResponseBuilder: (_request, context) => new Refusal(429, `too many requests from this address; try again in ${Math.ceil(context.ttl / 1000)} s`),
  });

  // Cookieless batches (docs/collector.md, "Cookieless mode"): the device derived under the day's salt.
  const salts = new Salts(db, now);
  const cookieless = new CookielessDevices(db, salts, config.inactivity ?? DEFAULT_INACTIVITY);
  let sweeping: Promise<void> = Promise.resolve();
  const sweep = () =>
    (sweeping = sweeping.then(() => salts.sweep().then(() => {}, (error) => app.log.warn({ err: error }, 'old salts were not deleted; trying again in a minute'))));
  await sweep();
  const sweeper = setInterval(sweep, SALT_SWEEP_INTERVAL).unref();

  app.post('/collect', async (request, reply) => {
    // The project first: an unknown one is a 404 whatever its events hold (intake.ts).
    const project = projectOf(request.body, projects);
    const origin = request.headers.origin;
    if (origin && !project.origins.includes('*') && !project.origins.includes(origin))
      throw new Refusal(403, `origin ${origin} may not send to project ${project.id}`);
    const batch = checkedBatch(request.body);

    const fresh = expandEvents(batch).filter((event) => !isStale(event, batch.sentAt));
    const stale = batch.events.length - fresh.length;
    // Stale events are not stored, so they cost nothing of the project's budget.
    const wait = limits.take(project.id, fresh.length, project.eventsPerMinute ?? DEFAULT_LIMITS.eventsPerMinute);
    if (wait) throw new Refusal(429, `project ${project.id} is over its event rate; try again in ${wait} s`, { 'retry-after': String(wait) });

    const receivedAt = now();
    const meta = requestMeta(request, { receivedAt, batch, fullIp: project.fullIp === true, geoHeaders });
    const device = batch.cookieless === true && fresh.length ? await cookieless.device(project.id, request.ip, request.headers['user-agent'], receivedAt) : undefined;
    let result: { accepted: number; duplicates: number };
    try {
      const events: StoredEvent[] = fresh.map((event) => {
        const stored = device ? cookielessEvent(storedForm(event, batch.sentAt), device.deviceId) : storedForm(event, batch.sentAt);
        return { projectId: project.id, event: stored, time: receivedAt - (batch.sentAt - stored.ts), request: meta };
      });
      result = events.length ? await writer.write(events) : { accepted: 0, duplicates: 0 };
    } finally {
      device?.done();
    }
    // Counted unless every event was already stored: a retried batch's report was counted with its first copy.
    // The events are committed by now: a failure to count is logged, not answered with a 5xx that would resend them.
    if (batch.dropped !== undefined && (result.accepted > 0 || !fresh.length))
      await addDropped(db, project.id, receivedAt, batch.dropped).catch((error) => request.log.warn({ err: error }, 'the dropped count was not stored'));
    return reply.code(200).send({ ...result, stale });
  });

  readRoutes(app, { db, projects: config.projects, now, inactivity: config.inactivity });

  // Never rate limited: a load balancer's or orchestrator's health checks come from one address, often.
  app.get('/healthz', { config: { rateLimit: false } }, async (_request, reply: FastifyReply) => {
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

  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    await sweeping;
  });
  app.addHook('onClose', async () => writer.close());
  return { app, writer };
}

/**
 * A request that never became one (too slow, headers too large, not HTTP):
 * answered with a JSON message like every other refusal, then closed.
 */
function clientError(error: Error & { code?: string }, socket: Socket, timeouts: { requestTimeout: number; headersTimeout: number }): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', `the request did not arrive in time (headers within ${timeouts.headersTimeout} ms, all of it within ${timeouts.requestTimeout} ms)`]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'the request headers are over 16 KiB']
        : [400, 'Bad Request', 'not an HTTP/1.1 request'];
  const body = JSON.stringify({ error: message });
  if (socket.writable)
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroy();
}

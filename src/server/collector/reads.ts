import type { FastifyInstance } from 'fastify';
import { LIMITS } from '../../protocol';
import { hashToken, type ProjectConfig } from './config';
import type { Database } from './database';
import { readDropped } from './dropped';
import { Refusal } from './refusal';
import { readSessions } from './store';
import { readVisit } from './visits';

/**
 * The read routes, each behind a bearer token that reads one project:
 * GET /sessions (a time range of session rows), GET /visits/:visitId (a visit's
 * rows and pages, for the sessions page's timeline) and GET /dropped (the SDK's
 * dropped counts per day). Every parameter is checked, and a bad one is a 400
 * that names it (docs/collector.md, "Routes").
 */
export function readRoutes(
  app: FastifyInstance,
  options: { db: Database; projects: readonly ProjectConfig[]; now: () => number; inactivity?: number },
): void {
  const { db, now } = options;
  const byToken = new Map(options.projects.flatMap((p) => p.readTokens.map((t) => [t, p] as const)));

  app.get('/sessions', async (request) => {
    const project = reader(request.headers.authorization, byToken);
    const query = parameters(request.query, ['projectId', 'from', 'to', 'limit']);
    if (query.projectId !== undefined && query.projectId !== String(project.id))
      throw new Refusal(403, `this token reads project ${project.id}, not ${JSON.stringify(query.projectId)}`);
    const to = time(query.to, 'to') ?? now() + 60_000;
    const from = time(query.from, 'from') ?? to - 24 * 3_600_000;
    if (from > to) throw new Refusal(400, 'from must not be after to');
    const limit = query.limit === undefined ? 100 : /^\d{1,4}$/.test(query.limit) ? Number(query.limit) : NaN;
    if (!(limit >= 1 && limit <= 1000)) throw new Refusal(400, 'limit must be an integer from 1 to 1000');
    const sessions = await db.transaction((tx) => readSessions(tx, { projectId: project.id, from, to, limit }));
    return { projectId: project.id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), sessions };
  });

  app.get('/visits/:visitId', async (request) => {
    const project = reader(request.headers.authorization, byToken);
    parameters(request.query, []);
    const { visitId } = request.params as { visitId: string };
    if (visitId.length > LIMITS.id) throw new Refusal(400, `visitId has at most ${LIMITS.id} characters`);
    // Stored IDs never hold a NUL (sanitize.ts makes it U+FFFD), and PostgreSQL cannot take one as a parameter.
    if (visitId.includes('\u0000')) throw new Refusal(400, 'visitId must not contain U+0000');
    const visit = await db.transaction((tx) => readVisit(tx, project.id, visitId, { inactivity: options.inactivity }));
    if (!visit.sessions.length) throw new Refusal(404, `project ${project.id} has no visit ${JSON.stringify(visitId)}`);
    return { projectId: project.id, visitId, ...visit };
  });

  app.get('/dropped', async (request) => {
    const project = reader(request.headers.authorization, byToken);
    const query = parameters(request.query, ['from', 'to']);
    const to = day(query.to, 'to') ?? new Date(now()).toISOString().slice(0, 10);
    const from = day(query.from, 'from') ?? new Date(Date.parse(to) - 29 * 86_400_000).toISOString().slice(0, 10);
    if (from > to) throw new Refusal(400, 'from must not be after to');
    const days = await db.transaction((tx) => readDropped(tx, project.id, from, to));
    return { projectId: project.id, from, to, days, total: days.reduce((n, d) => n + d.dropped, 0) };
  });
}

/** The project a bearer token reads: 401 without a token or with a wrong one. */
function reader(authorization: string | undefined, byToken: Map<string, ProjectConfig>): ProjectConfig {
  const match = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(authorization ?? '');
  const unauthorized = (message: string) => new Refusal(401, message, { 'www-authenticate': 'Bearer realm="sessionbeacon"' });
  if (!match) throw unauthorized('a bearer token is required (Authorization: Bearer <token>)');
  const project = byToken.get(hashToken(match[1]));
  if (!project) throw unauthorized('this token reads no project');
  return project;
}

/** The query's known parameters, each given at most once (400 naming the one given twice); others are ignored. */
function parameters(query: unknown, names: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const given = (query ?? {}) as Record<string, unknown>;
  for (const name of names) {
    const value = given[name];
    if (Array.isArray(value)) throw new Refusal(400, `${name} is given more than once`);
    out[name] = typeof value === 'string' ? value : undefined;
  }
  return out;
}

/** The times a read may ask for: from 1970 to the end of 9999 (PostgreSQL and an ISO string both hold them). */
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * A query time: epoch ms (digits only), or an ISO 8601 date or date-time (UTC
 * unless it names an offset); undefined when absent; 400 naming the parameter
 * when unreadable, not a real date, or outside 1970-9999. Nothing else is
 * guessed at: JavaScript's Date.parse reads "-1" and "1,2" as days in 2001.
 */
function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const refuse = (why: string) => new Refusal(400, `${name} must be epoch ms or an ISO 8601 date (${why})`);
  let t: number;
  if (/^\d{1,16}$/.test(value)) t = Number(value);
  else {
    const m = ISO.exec(value);
    if (!m) throw refuse(`${JSON.stringify(value.slice(0, 40))} is neither`);
    const [, y, mo, d, h = '0', mi = '0', s = '0', ms = '0', zone = 'Z'] = m;
    const local = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, +ms.padEnd(3, '0'));
    const check = new Date(local);
    if (check.getUTCFullYear() !== +y || check.getUTCMonth() !== +mo - 1 || check.getUTCDate() !== +d || +h > 23 || +mi > 59 || +s > 59)
      throw refuse(`${value} is not a date`);
    const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    t = local - offset * 60_000;
  }
  if (!(t >= 0 && t <= LATEST)) throw refuse('from 1970 to 9999');
  return t;
}

/** A query day, YYYY-MM-DD (UTC), or undefined; 400 naming the parameter otherwise. */
function day(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const t = /^\d{4}-\d{2}-\d{2}$/.test(value) ? time(value, name) : NaN;
  if (t === undefined || Number.isNaN(t)) throw new Refusal(400, `${name} must be a day, YYYY-MM-DD`);
  return value;
}

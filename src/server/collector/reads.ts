import type { FastifyInstance } from 'fastify';
import { hashToken, type ProjectConfig } from './config';
import type { Database } from './database';
import { Refusal } from './refusal';
import { readSessions, readVisit } from './store';

/**
 * The read routes, each behind a bearer token that reads one project:
 * GET /sessions (a time range of session rows) and GET /visits/:visitId (a
 * visit's rows and pages, for the sessions page's timeline).
 */
export function readRoutes(app: FastifyInstance, options: { db: Database; projects: readonly ProjectConfig[]; now: () => number }): void {
  const { db, now } = options;
  const byToken = new Map(options.projects.flatMap((p) => p.readTokens.map((t) => [t, p] as const)));

  app.get('/sessions', async (request) => {
    const project = reader(request.headers.authorization, byToken);
    const query = request.query as Record<string, string | undefined>;
    if (query.projectId !== undefined && query.projectId !== String(project.id))
      throw new Refusal(403, `this token reads project ${project.id}, not ${query.projectId}`);
    const to = time(query.to, 'to') ?? now() + 60_000;
    const from = time(query.from, 'from') ?? to - 24 * 3_600_000;
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Refusal(400, 'limit must be an integer from 1 to 1000');
    const sessions = await db.transaction((tx) => readSessions(tx, { projectId: project.id, from, to, limit }));
    return { projectId: project.id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), sessions };
  });

  app.get('/visits/:visitId', async (request) => {
    const project = reader(request.headers.authorization, byToken);
    const { visitId } = request.params as { visitId: string };
    if (visitId.length > 64) throw new Refusal(400, 'a visitId has at most 64 characters');
    const visit = await db.transaction((tx) => readVisit(tx, project.id, visitId));
    if (!visit.sessions.length) throw new Refusal(404, `project ${project.id} has no visit ${JSON.stringify(visitId)}`);
    return { projectId: project.id, visitId, ...visit };
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

/** A query time: epoch ms or an ISO date; undefined when absent, 400 when unreadable. */
function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t)) throw new Refusal(400, `${name} must be epoch ms or an ISO 8601 date`);
  return t;
}

import { cut, LIMITS, type Batch, type WireEvent } from '../../protocol';
import { cut as cutCodePoints } from '../sessionizer/columns';
import type { ProjectConfig } from './config';
import { Refusal } from './refusal';
import { TooDeep, storable } from './sanitize';
import { batchProblem } from './schema';

/**
 * The rules of `POST /collect` (docs/collector.md), without HTTP: which project
 * a body is for, whether it is a batch, and what is stored of each event. app.ts
 * wires them to the route.
 */

/** An event stamped further in the past than this, relative to its batch's sentAt, is not stored (a broken clock or a replay). */
export const MAX_EVENT_AGE = 30 * 24 * 3_600_000;
/** Objects and arrays nested deeper than this are refused: no event needs it. */
export const MAX_DEPTH = 16;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The project a parsed body is for, read before anything else in the body: an
 * unknown project is a 404 whatever its events hold (a sender learns nothing
 * about a project it cannot write to, and is told the one thing that matters).
 */
export function projectOf(body: unknown, projects: ReadonlyMap<number, ProjectConfig>): ProjectConfig {
  if (body === undefined) throw new Refusal(400, 'a JSON batch is required (Content-Type text/plain or application/json)');
  if (!isObject(body)) throw new Refusal(400, 'not a version 1 batch: /: Expected object');
  const projectId = body.projectId;
  if (projectId === undefined) throw new Refusal(400, 'projectId is required');
  const id = typeof projectId === 'number' ? projectId : typeof projectId === 'string' && /^\d{1,10}$/.test(projectId) ? Number(projectId) : NaN;
  const project = projects.get(id);
  if (!project) throw new Refusal(404, `unknown project ${typeof projectId === 'string' ? JSON.stringify(cut(projectId, 64)) : typeof projectId === 'number' ? projectId : `(a ${Array.isArray(projectId) ? 'array' : typeof projectId})`}`);
  return project;
}

/** The parsed body as a batch with every string storable, or a 400 that says what is wrong and where. */
export function checkedBatch(body: unknown): Batch {
  let value: unknown;
  try {
    value = storable(body, MAX_DEPTH);
  } catch (error) {
    if (error instanceof TooDeep) throw new Refusal(400, error.message);
    throw error;
  }
  const problem = batchProblem(value);
  if (problem) throw new Refusal(400, `not a version 1 batch: ${problem}`);
  return value as Batch;
}

/** Whether an event is too old to store: stamped more than MAX_EVENT_AGE before its batch was sent. */
export const isStale = (event: { ts: number }, sentAt: number): boolean => sentAt - event.ts > MAX_EVENT_AGE;

/** String fields cut to their limit (protocol.ts LIMITS) when stored, by event type (a Map: a type may be named "constructor"). */
const CUT = new Map<string, readonly (readonly [field: string, max: number])[]>([
  [
    'page_view',
    [
      ['url', LIMITS.url],
      ['title', LIMITS.title],
      ['navigationType', LIMITS.navigationType],
      ['language', LIMITS.language],
      ['timezoneIANA', LIMITS.timezoneIANA],
      ['utmSource', LIMITS.utm],
      ['utmMedium', LIMITS.utm],
      ['utmCampaign', LIMITS.utm],
      ['utmTerm', LIMITS.utm],
      ['utmContent', LIMITS.utm],
      ['utmId', LIMITS.utm],
    ],
  ],
  ['track', [['name', LIMITS.name]]],
]);

/**
 * The event as stored: stamped no later than its batch was sent (a clock cannot
 * report an event before it happens; such a stamp is clamped), every string
 * field within its limit (LIMITS: a longer one is cut, never refused), and a
 * page view's referrer kept only as far as the session columns keep it (origin
 * and path, 255 characters each, and 1 024 of query).
 */
export function storedForm(event: WireEvent, sentAt: number): WireEvent {
  const ts = Math.min(event.ts, sentAt);
  let out: Record<string, unknown> | undefined;
  const set = (field: string, value: unknown) => ((out ??= { ...event })[field] = value);
  if (ts !== event.ts) set('ts', ts);
  for (const [field, max] of CUT.get(event.type) ?? []) {
    const value = (event as unknown as Record<string, unknown>)[field];
    if (typeof value === 'string' && value.length > max) set(field, cut(value, max));
  }
  if (event.type === 'page_view') {
    if (typeof event.referrer === 'string' && event.referrer) {
      const referrer = referrerToStore(cut(event.referrer, LIMITS.referrer));
      if (referrer !== event.referrer) set('referrer', referrer);
    }
    if (event.clickIds && Object.values(event.clickIds).some((v) => v.length > LIMITS.clickId))
      set('clickIds', Object.fromEntries(Object.entries(event.clickIds).map(([k, v]) => [k, cut(v, LIMITS.clickId)])));
    const hints = event.userAgentData as Hints | undefined;
    if (hints && tooLong(hints)) set('userAgentData', cutHints(hints));
  }
  return (out as unknown as WireEvent | undefined) ?? event;
}

/** Client hints as the schema lets them through: every part optional. */
interface Hints {
  brands?: { brand?: string; version?: string }[];
  mobile?: boolean;
  platform?: string;
}

function tooLong(hints: Hints): boolean {
  return (
    (typeof hints.platform === 'string' && hints.platform.length > LIMITS.platform) ||
    (hints.brands ?? []).some((b) => (b.brand?.length ?? 0) > LIMITS.brand || (b.version?.length ?? 0) > LIMITS.brandVersion)
  );
}

function cutHints(hints: Hints): Hints {
  const out: Record<string, unknown> = { ...hints };
  if (typeof hints.platform === 'string') out.platform = cut(hints.platform, LIMITS.platform);
  if (hints.brands)
    out.brands = hints.brands.map((b) => ({
      ...b,
      ...(typeof b.brand === 'string' ? { brand: cut(b.brand, LIMITS.brand) } : {}),
      ...(typeof b.version === 'string' ? { version: cut(b.version, LIMITS.brandVersion) } : {}),
    }));
  return out as Hints;
}

function referrerToStore(referrer: string): string {
  try {
    const u = new URL(referrer);
    return `${u.origin === 'null' ? `${u.protocol}//${u.host}` : u.origin}`.slice(0, 255) + u.pathname.slice(0, 255) + u.search.slice(0, 1024);
  } catch {
    return cutCodePoints(referrer, 255) ?? ''; // in code points: a cut emoji would be a lone surrogate, which jsonb refuses
  }
}

import { EVENT_TYPES } from '../../protocol';

const ID_FIELDS = ['id', 'deviceId', 'anonymousId', 'visitId', 'sessionId', 'tabId', 'pageId'] as const;
const TYPES = new Set<string>(EVENT_TYPES);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Why a value is not a received request (./request.ts) the sessionizer can take, or undefined if it is: the
 * shape the sessionizer relies on (the collector validates the full
 * wire protocol with its schema before storing).
 */
export function requestProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (!finite(value.receivedAt)) return 'receivedAt must be a number (epoch ms)';
  if (value.ip !== undefined && typeof value.ip !== 'string') return 'ip must be a string';
  if (value.userAgent !== undefined && typeof value.userAgent !== 'string') return 'userAgent must be a string';
  const body = value.body;
  if (!isObject(body)) return 'body must be a batch object';
  if (body.v !== 1) return 'body.v must be 1';
  if (!finite(body.sentAt)) return 'body.sentAt must be a number (epoch ms)';
  if (body.projectId !== undefined && typeof body.projectId !== 'number' && typeof body.projectId !== 'string') return 'body.projectId must be a number or a string';
  if (!Array.isArray(body.events)) return 'body.events must be an array';
  for (let i = 0; i < body.events.length; i++) {
    const e: unknown = body.events[i];
    if (!isObject(e)) return `body.events[${i}] is not an object`;
    if (!TYPES.has(e.type as string)) return `body.events[${i}].type is not an event type`;
    if (!finite(e.ts) || !finite(e.seq)) return `body.events[${i}].ts and .seq must be numbers`;
    for (const f of ID_FIELDS) {
      const id = e[f] ?? (f === 'id' ? undefined : body[f]);
      if (typeof id !== 'string' || !id) return `body.events[${i}].${f} must be a non-empty string (or body.${f}, shared by the batch)`;
    }
  }
  return undefined;
}

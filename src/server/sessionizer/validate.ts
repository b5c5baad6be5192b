import { LIMITS } from '../../protocol';

const ID_FIELDS = ['id', 'deviceId', 'anonymousId', 'visitId', 'sessionId', 'tabId', 'pageId'] as const;
/** A cookieless batch carries only these (./cookieless.ts derives the rest)... */
const COOKIELESS_ID_FIELDS = ['id', 'tabId', 'pageId'] as const;
/** ...and none of these, on an event or at the batch's top. */
const DERIVED_ID_FIELDS = ['deviceId', 'anonymousId', 'identityId', 'visitId', 'sessionId'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Epoch ms from 2000 to 2100, as the collector's schema takes them: derived event times then stay dates. */
const epochMs = (v: unknown): v is number => typeof v === 'number' && v >= 946_684_800_000 && v <= 4_102_444_800_000;

/**
 * Why a value is not a received request (./request.ts) the sessionizer can
 * take, or undefined if it is. It asks what the collector's schema asks
 * (docs/collector.md, "What a batch must hold"): an event's id, type, ts, seq and
 * IDs (on the event or once on its batch), times from 2000 to 2100. Every other
 * field is optional, and the row builder reads any value of it without failing
 * (docs/sessionizer.md): so every batch the collector accepts is taken here too.
 */
export function requestProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (!epochMs(value.receivedAt)) return 'receivedAt must be a number (epoch ms, from 2000 to 2100)';
  if (value.ip !== undefined && typeof value.ip !== 'string') return 'ip must be a string';
  if (value.userAgent !== undefined && typeof value.userAgent !== 'string') return 'userAgent must be a string';
  if (value.headers !== undefined && !isObject(value.headers)) return 'headers must be an object';
  const body = value.body;
  if (!isObject(body)) return 'body must be a batch object';
  if (body.v !== 1) return 'body.v must be 1';
  if (!epochMs(body.sentAt)) return 'body.sentAt must be a number (epoch ms, from 2000 to 2100)';
  if (body.projectId !== undefined && typeof body.projectId !== 'number' && typeof body.projectId !== 'string') return 'body.projectId must be a number or a string';
  if (!Array.isArray(body.events)) return 'body.events must be an array';
  if (body.cookieless !== undefined && typeof body.cookieless !== 'boolean') return 'body.cookieless must be a boolean';
  const cookieless = body.cookieless === true;
  if (cookieless) for (const f of DERIVED_ID_FIELDS) if (body[f] !== undefined) return `body.${f}: a cookieless batch carries none (the device is derived)`;
  for (let i = 0; i < body.events.length; i++) {
    const e: unknown = body.events[i];
    if (!isObject(e)) return `body.events[${i}] is not an object`;
    // Any type: one this version does not know is sessionized as a report (docs/sessionizer.md).
    if (typeof e.type !== 'string' || !e.type || e.type.length > LIMITS.type) return `body.events[${i}].type must be a string of 1 to ${LIMITS.type} characters`;
    if (!epochMs(e.ts)) return `body.events[${i}].ts must be a number (epoch ms, from 2000 to 2100)`;
    if (typeof e.seq !== 'number' || !Number.isFinite(e.seq)) return `body.events[${i}].seq must be a number`;
    if (cookieless)
      for (const f of DERIVED_ID_FIELDS) if (e[f] !== undefined) return `body.events[${i}].${f}: a cookieless batch carries none (the device is derived)`;
    for (const f of cookieless ? COOKIELESS_ID_FIELDS : ID_FIELDS) {
      const id = e[f] ?? (f === 'id' ? undefined : body[f]);
      if (typeof id !== 'string' || !id) return `body.events[${i}].${f} must be a non-empty string (or body.${f}, shared by the batch)`;
    }
  }
  return undefined;
}

import { expandEvents, type Batch, type WireEvent } from '../../protocol';

/** One request as the collector received it: the input of the sessionizer (and one NDJSON line of `sessionize`). */
export interface ReceivedRequest {
  /** Server clock, epoch ms. */
  receivedAt: number;
  ip?: string;
  userAgent?: string;
  /** Request headers (lower-case names) the geo columns may come from. */
  headers?: Record<string, string | undefined>;
  body: Batch;
}

/** What the server knows of the request an event came in: shared by all events of the request. */
export interface RequestMeta {
  receivedAt: number;
  sentAt: number;
  ip?: string;
  userAgent?: string;
  headers?: Record<string, string | undefined>;
  sdk?: string;
  /** A cookieless batch's request (./cookieless.ts): its row is tagged so. */
  cookieless?: true;
}

/** An event with its derived time and its request. */
export interface StoredEvent {
  projectId: number | string;
  event: WireEvent;
  /** Derived event time (model.md rule 2): receivedAt - (sentAt - ts). */
  time: number;
  request: RequestMeta;
}

/**
 * The dedupe key of model.md rule 1: (projectId, event id), applied within the
 * device (an event has one deviceId): a client reusing another device's event id
 * cannot erase that device's event.
 */
export const eventKey = (e: StoredEvent): string => e.event.id;
/** The partition of rule 3: (projectId, deviceId). */
export const partitionKey = (projectId: number | string, deviceId: string): string => `${projectId}\u0000${deviceId}`;
export const deviceKey = (e: StoredEvent): string => partitionKey(e.projectId, e.event.deviceId);

/**
 * The events of a request, each with its derived time: the device's clock error
 * cancels out because `sentAt` and `ts` come from the same clock (Snowplow's
 * derived timestamp). A request without a project gets `defaultProject`.
 */
export function storedEvents(request: ReceivedRequest, defaultProject: number | string = 0): StoredEvent[] {
  const { body, receivedAt } = request;
  const projectId = body.projectId ?? defaultProject;
  const meta: RequestMeta = { receivedAt, sentAt: body.sentAt, ip: request.ip, userAgent: request.userAgent, headers: request.headers, sdk: body.sdk };
  if (body.cookieless === true) meta.cookieless = true;
  return expandEvents(body).map((event) => ({ projectId, event, time: receivedAt - (body.sentAt - event.ts), request: meta }));
}

/**
 * Of two copies of one event (a retried beacon), the one to keep: the first
 * received, then the first sent, then by content. A total order on the copies,
 * so the choice depends on the set of copies, never on the order they came in.
 */
export function preferredCopy(a: StoredEvent, b: StoredEvent): StoredEvent {
  const ra = a.request;
  const rb = b.request;
  if (ra.receivedAt !== rb.receivedAt) return ra.receivedAt < rb.receivedAt ? a : b;
  if (ra.sentAt !== rb.sentAt) return ra.sentAt < rb.sentAt ? a : b;
  const ja = JSON.stringify([a.event, ra.ip, ra.userAgent, ra.headers, ra.sdk]);
  const jb = JSON.stringify([b.event, rb.ip, rb.userAgent, rb.headers, rb.sdk]);
  return ja <= jb ? a : b;
}

/** Rule 4: order by (event time, seq, event id). */
export function byEventOrder(a: StoredEvent, b: StoredEvent): number {
  return a.time - b.time || a.event.seq - b.event.seq || (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0);
}

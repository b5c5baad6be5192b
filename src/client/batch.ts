import { MAX_REQUEST_BYTES, PROTOCOL_VERSION, type WireEvent } from '../protocol';

/** UTF-8 length of a string: what the browser counts against the 64 KiB limit. */
export const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

export interface BatchMeta {
  projectId?: number | string;
  sdk: string;
  /** Events dropped since the last report (queue limits, refusals): sent in the first body only. */
  dropped?: number;
}

export interface Body {
  body: string;
  events: WireEvent[];
}

/**
 * Packs events, in order, into as few request bodies as possible, each at most
 * `maxBytes` of UTF-8. Every event is serialized once. An event that alone would
 * not fit in a request can never be sent and is dropped (properties are capped
 * well below that, so only a hostile page gets there).
 */
export function packBodies(
  events: WireEvent[],
  meta: BatchMeta,
  sentAt: number,
  maxBytes = MAX_REQUEST_BYTES,
): Body[] {
  const project = meta.projectId === undefined ? '' : `"projectId":${JSON.stringify(meta.projectId)},`;
  const head = `{"v":${PROTOCOL_VERSION},${project}"sentAt":${sentAt},"sdk":${JSON.stringify(meta.sdk)},"events":[`;
  const firstHead = meta.dropped ? head.replace('"events"', `"dropped":${meta.dropped},"events"`) : head;
  const tail = ']}';
  const bodies: Body[] = [];
  let parts: string[] = [];
  let group: WireEvent[] = [];
  const empty = utf8Length(firstHead) + tail.length;
  let size = empty;
  const close = () => {
    if (group.length) bodies.push({ body: (bodies.length ? head : firstHead) + parts.join(',') + tail, events: group });
    parts = [];
    group = [];
    size = empty;
  };
  for (const event of events) {
    const json = JSON.stringify(event);
    const bytes = utf8Length(json) + 1; // with its comma
    if (empty + bytes > maxBytes) continue;
    if (size + bytes > maxBytes) close();
    parts.push(json);
    group.push(event);
    size += bytes;
  }
  close();
  return bodies;
}

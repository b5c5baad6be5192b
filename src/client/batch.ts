import { ID_FIELDS, MAX_REQUEST_BYTES, PROTOCOL_VERSION, type WireEvent } from '../protocol';

/** UTF-8 length of a string: what the browser counts against the 64 KiB limit. */
export const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

/** Heads the body of cookieless events (cookieless.ts): the collector derives their device. */
const COOKIELESS = '"cookieless":true,';

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
 * `maxBytes` of UTF-8. An ID that every event of a body shares travels once, at
 * the top of the body (docs/protocol.md; the collector's expandEvents puts it
 * back), which makes a burst of one page's events a third of its size. Bodies
 * are measured with every ID in every event, so a body is never larger than that.
 * An event that alone would not fit in a request can never be sent and is
 * dropped (properties are capped well below that, so only a hostile page gets there).
 * Cookieless events (no deviceId) and the others never share a body: a body of
 * cookieless ones says so at its top.
 */
export function packBodies(events: WireEvent[], meta: BatchMeta, sentAt: number, maxBytes = MAX_REQUEST_BYTES): Body[] {
  const head = `{"v":${PROTOCOL_VERSION},${meta.projectId === undefined ? '' : `"projectId":${JSON.stringify(meta.projectId)},`}"sentAt":${sentAt},"sdk":${JSON.stringify(meta.sdk)},`;
  const dropped = meta.dropped ? `"dropped":${meta.dropped},` : '';
  const groups: WireEvent[][] = [];
  let group: WireEvent[] = [];
  const empty = utf8Length(head + dropped) + 12 + COOKIELESS.length; // "events":[ and ]}, and room to say "cookieless":true
  let size = empty;
  for (const event of events) {
    const bytes = utf8Length(JSON.stringify(event)) + 1; // with its comma
    if (empty + bytes > maxBytes) continue;
    if (size + bytes > maxBytes || (group.length && !group[0].deviceId !== !event.deviceId)) groups.push(group), (group = []), (size = empty);
    group.push(event);
    size += bytes;
  }
  if (group.length) groups.push(group);
  return groups.map((group, i) => {
    const shared: Record<string, unknown> = {};
    for (const field of ID_FIELDS) {
      const value = group[0][field];
      if (value !== undefined && group.every((e) => e[field] === value)) shared[field] = value;
    }
    const top = JSON.stringify(shared).slice(1, -1);
    const json = group.map((e) => JSON.stringify(e, function (key, value) {
      return this === e && key in shared ? undefined : value;
    }));
    return { body: `${head}${group[0].deviceId ? '' : COOKIELESS}${i ? '' : dropped}${top}${top && ','}"events":[${json}]}`, events: group };
  });
}

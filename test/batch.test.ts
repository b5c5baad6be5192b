import { describe, expect, it } from 'vitest';
import { packBodies, utf8Length } from '../src/client/batch';
import { expandEvents, MAX_REQUEST_BYTES, type Batch, type WireEvent } from '../src/protocol';

const event = (i: number, name = 'e'): WireEvent => ({
  id: `id${i}`, type: 'track', ts: 1000 + i, seq: i, name,
  deviceId: 'd', anonymousId: 'a', visitId: 'v', sessionId: 's', tabId: 't', pageId: 'p',
});

describe('packBodies', () => {
  it('puts events in one body with the batch header', () => {
    const bodies = packBodies([event(1), event(2)], { projectId: 42, sdk: '0.1.0' }, 5000);
    expect(bodies).toHaveLength(1);
    const batch = JSON.parse(bodies[0].body) as Batch;
    expect(batch).toMatchObject({ v: 1, projectId: 42, sentAt: 5000, sdk: '0.1.0' });
    expect(expandEvents(batch)).toEqual([event(1), event(2)]);
  });

  it('omits projectId when there is none', () => {
    expect(JSON.parse(packBodies([event(1)], { sdk: 'x' }, 1)[0].body)).not.toHaveProperty('projectId');
  });

  it('splits into bodies of at most 64 KiB of UTF-8, in order, losing nothing', () => {
    // Multi-byte text: the limit is in bytes, not in characters.
    const events = Array.from({ length: 400 }, (_, i) => event(i, 'é€😀'.repeat(60)));
    const bodies = packBodies(events, { sdk: 'x' }, 1);
    expect(bodies.length).toBeGreaterThan(1);
    for (const b of bodies) expect(utf8Length(b.body)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(bodies.flatMap((b) => JSON.parse(b.body).events.map((e: WireEvent) => e.id))).toEqual(events.map((e) => e.id));
  });

  it('drops an event that could never fit in a request', () => {
    const bodies = packBodies([event(1), event(2, 'x'.repeat(MAX_REQUEST_BYTES)), event(3)], { sdk: 'x' }, 1);
    expect(bodies.flatMap((b) => b.events.map((e) => e.id))).toEqual(['id1', 'id3']);
  });

  it('sends the IDs every event of a body shares once, at its top; an event keeps those it does not share', () => {
    const other = { ...event(3), pageId: 'p2', identityId: 'u' };
    const [{ body }] = packBodies([event(1), event(2), other], { sdk: 'x', dropped: 2 }, 1);
    const batch = JSON.parse(body) as Batch;
    expect(batch).toMatchObject({ dropped: 2, deviceId: 'd', anonymousId: 'a', visitId: 'v', sessionId: 's', tabId: 't' });
    expect(batch).not.toHaveProperty('pageId');
    expect(batch).not.toHaveProperty('identityId');
    expect(batch.events[0]).toEqual({ id: 'id1', type: 'track', ts: 1001, seq: 1, name: 'e', pageId: 'p' });
    expect(batch.events[2]).toMatchObject({ pageId: 'p2', identityId: 'u' });
    expect(expandEvents(batch)).toEqual([event(1), event(2), other]);
    // A property of the same name inside `properties` is the page's own and stays.
    const nested = { ...event(4), properties: { deviceId: 'theirs' } } as WireEvent;
    expect(JSON.parse(packBodies([nested], { sdk: 'x' }, 1)[0].body).events[0].properties).toEqual({ deviceId: 'theirs' });
    // Smaller than with every ID in every event.
    expect(body.length).toBeLessThan(JSON.stringify({ v: 1, sentAt: 1, sdk: 'x', dropped: 2, events: [event(1), event(2), other] }).length - 100);
  });

  it('counts UTF-8 bytes', () => {
    expect(utf8Length('aé€😀')).toBe(1 + 2 + 3 + 4);
  });
});

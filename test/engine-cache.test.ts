// @vitest-environment node
// The engine's memory as a cache (docs/scaling.md): least recently used devices
// are forgotten first under a cap, its byte estimate comes back to zero when all
// is forgotten, and a device synced from a store holds that store's rows.
import { describe, expect, it } from 'vitest';
import { Engine, sessionize, storedEvents } from '../src/server/sessionizer';
import { ev, MIN, req, T0 } from './sessionizer.helpers';

const events = (deviceId: string, at: number, tabId = 'tab1') => storedEvents(req([ev(at, { deviceId, tabId, sessionId: `s-${deviceId}-${tabId}` })]));

describe('the engine as a cache', () => {
  it('trims the least recently used devices first, to the byte cap', () => {
    const engine = new Engine();
    for (const d of ['a', 'b', 'c']) engine.ingestEvents(events(d, T0));
    const three = engine.heldBytes;
    engine.ingestEvents(events('a', T0 + MIN)); // a used again: b is now the least recently used
    expect(engine.trim(engine.heldBytes - 1)).toBe(1);
    expect([engine.isOpen(1, 'a'), engine.isOpen(1, 'b'), engine.isOpen(1, 'c')]).toEqual([true, false, true]);
    expect(engine.heldBytes).toBeLessThan(three);
    expect(engine.trim(0)).toBe(2);
    expect({ devices: engine.openDevices, events: engine.heldEvents, bytes: engine.heldBytes }).toEqual({ devices: 0, events: 0, bytes: 0 });
  });

  it('an event with kilobytes of properties weighs more than a small one', () => {
    const small = new Engine();
    small.ingestEvents(events('a', T0));
    const big = new Engine();
    big.ingestEvents(storedEvents(req([ev(T0, { deviceId: 'a', properties: { text: 'x'.repeat(20_000) } })])));
    expect(big.heldBytes - small.heldBytes).toBeGreaterThan(20_000);
  });

  it('sync: a device read from a store holds its rows, so the next event yields only its own changes', () => {
    const early = events('d', T0);
    const later = events('d', T0 + 5 * MIN, 'tab2');
    const engine = new Engine();
    engine.sync(1, 'd', [...early, ...later], 2, 'scratch');
    expect(engine.versionOf(1, 'd')).toBe(2);
    expect(engine.rows()).toEqual(sessionize([req(early.map((e) => e.event)), req(later.map((e) => e.event))]));
    // Caught up with one more stored event, then a new one: the changes are the new one's only.
    const more = events('d', T0 + 6 * MIN, 'tab2');
    engine.sync(1, 'd', more, 3, 'held');
    expect(engine.rows()).toHaveLength(2);
    const changes = engine.ingestEvents(events('d', T0 + 7 * MIN, 'tab2'));
    // tab2's row only: tab1's is as stored.
    expect(changes.map((c) => (c.op === 'upsert' ? c.row.tabId : c.op))).toEqual(['tab2']);
    expect(() => engine.sync(1, 'unknown', [], 1, 'held')).toThrow(/not in memory/);
  });
});

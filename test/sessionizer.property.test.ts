// @vitest-environment node
// Incremental == batch (model.md rule 7), by property: for random devices, tabs,
// gaps around the timeout, duplicates and late identifies, delivered as random
// batches in a random order, the table built from the engine's changes equals a
// batch run over the same requests.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandEvents, type Batch, type WireEvent } from '../src/protocol';
import { Engine, rowKey, sessionize, storedEvents, type ReceivedRequest, type SessionRow } from '../src/server/sessionizer';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 22, 9);
const TIMEOUT = 30 * MIN;

const step = fc.record({
  gap: fc.oneof(
    fc.constantFrom(0, 1, 999, TIMEOUT - 1, TIMEOUT, TIMEOUT + 1, 2 * TIMEOUT, 5 * 3_600_000),
    fc.integer({ min: 0, max: 45 * MIN }),
  ),
  type: fc.constantFrom('page_view', 'track', 'track', 'page_leave', 'page_ping', 'identify'),
  tab: fc.nat(2),
  anon: fc.nat(1),
  copies: fc.constantFrom(1, 1, 1, 2, 3), // a retried beacon arrives more than once
  sendDelay: fc.constantFrom(0, 10, 5_000, 3_600_000), // sent at once, or queued offline
});

const scenario = fc.record({
  devices: fc.array(fc.record({ skew: fc.integer({ min: -7_200_000, max: 7_200_000 }), steps: fc.array(step, { minLength: 1, maxLength: 14 }) }), { minLength: 1, maxLength: 3 }),
  batchSize: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer(),
});

/** Turns a scenario into received requests: each device's events, in client-clock time, copied and batched. */
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function requestsOf(s: Scenario): ReceivedRequest[] {
  const copies: { event: WireEvent; sentAt: number; skew: number }[] = [];
  let id = 0;
  s.devices.forEach((d, dn) => {
    let ts = T0 + d.skew;
    d.steps.forEach((st, k) => {
      ts += st.gap;
      const base = {
        id: `e${dn}-${id++}`,
        ts,
        seq: k,
        deviceId: `d${dn}`,
        anonymousId: `a${dn}-${st.anon}`,
        visitId: `cv${dn}-${Math.floor(ts / TIMEOUT)}`,
        sessionId: `cs${dn}-${st.tab}`,
        tabId: `t${dn}-${st.tab}`,
        pageId: `p${dn}-${st.tab}-${Math.floor(k / 3)}`,
      };
      const event = (
        st.type === 'page_view' ? { ...base, type: 'page_view', url: `https://a.example/${k}?utm_source=s${k % 2}`, title: `T${k}`, navigationType: k ? 'route' : 'navigate', language: 'en-GB', timezoneOffset: 60 }
        : st.type === 'identify' ? { ...base, type: 'identify', identityId: `user-${dn}` }
        : st.type === 'track' ? { ...base, type: 'track', name: 'x' }
        : { ...base, type: st.type, activeTime: k * 1000, userActions: k }
      ) as WireEvent;
      for (let c = 0; c < st.copies; c++) copies.push({ event, sentAt: ts + st.sendDelay + c * 7_000, skew: d.skew });
    });
  });
  // Deterministic shuffle from the seed, then batches of batchSize copies.
  let x = s.seed >>> 0 || 1;
  const rand = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = copies.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copies[i], copies[j]] = [copies[j], copies[i]];
  }
  const requests: ReceivedRequest[] = [];
  for (let i = 0; i < copies.length; i += s.batchSize) {
    const group = copies.slice(i, i + s.batchSize);
    const sentAt = Math.max(...group.map((g) => g.sentAt));
    const body: Batch = { v: 1, projectId: 1, sentAt, sdk: '0.1.0', events: group.map((g) => g.event) };
    // All copies in one batch share the batch's sentAt: their derived time follows the device clock.
    requests.push({ receivedAt: sentAt - group[0].skew + 40, ip: '198.51.100.7', userAgent: 'UA', body });
  }
  // Events of different devices in one batch would share a skew: keep each request to one device.
  return requests.flatMap((r) => {
    const byDevice = new Map<string, WireEvent[]>();
    for (const e of expandEvents(r.body)) byDevice.set(e.deviceId, [...(byDevice.get(e.deviceId) ?? []), e]);
    return [...byDevice.values()].map((events) => {
      const skew = s.devices[Number(events[0].deviceId.slice(1))].skew;
      return { ...r, receivedAt: r.body.sentAt - skew + 40, body: { ...r.body, events } };
    });
  });
}

const sorted = (rows: SessionRow[]) => [...rows].sort((a, b) => rowKey(a).localeCompare(rowKey(b)));

function tableFrom(engine: Engine, requests: ReceivedRequest[], afterEach?: () => void): SessionRow[] {
  const table = new Map<string, SessionRow>();
  for (const r of requests) {
    for (const c of engine.ingest(r)) {
      if (c.op === 'upsert') table.set(rowKey(c.row), c.row);
      else table.delete(rowKey(c.key));
    }
    afterEach?.();
  }
  return [...table.values()];
}

describe('incremental == batch', () => {
  it('for any events, copies, batching and arrival order', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const requests = requestsOf(s);
        const batch = sorted(sessionize(requests));
        const engine = new Engine();
        expect(sorted(tableFrom(engine, requests))).toEqual(batch);
        expect(sorted(engine.rows())).toEqual(batch);
        // The same requests in reverse order give the same table.
        expect(sorted(tableFrom(new Engine(), [...requests].reverse()))).toEqual(batch);
      }),
      { numRuns: 1500 },
    );
  }, 120_000);

  it('also when devices are forgotten past a horizon and reloaded from storage', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const requests = requestsOf(s);
        const stored: ReturnType<typeof storedEvents> = [];
        const engine = new Engine({
          horizon: 10 * MIN,
          reload: (projectId, deviceId) => stored.filter((e) => e.projectId === projectId && e.event.deviceId === deviceId),
        });
        let i = 0;
        const table = tableFrom(engine, requests, () => {
          stored.push(...storedEvents(requests[i++]));
          engine.evict();
        });
        expect(sorted(table)).toEqual(sorted(sessionize(requests)));
      }),
      { numRuns: 700 },
    );
  }, 120_000);
});

// @vitest-environment node
// Cookieless requests without a database (src/server/sessionizer/cookieless.ts):
// the salt's days, the derived device, the IDs a cookieless event gets, the
// midnight rule, and `sessionize` over them (the offline command's rules; the
// collector's are in collector.cookieless.test.ts). Time is given, never waited for.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Batch, WireEvent } from '../src/protocol';
import { requestProblem, rowKey, sessionize, type ReceivedRequest, type SessionRow } from '../src/server';
import { sessionizeCommand, parseArgs } from '../src/server/cli';
import {
  CookielessRequests,
  cookielessDeviceId,
  cookielessEvent,
  oldestUsableDay,
  parseSalt,
  SALT_GRACE,
  saltDays,
  saltsOf,
} from '../src/server/sessionizer/cookieless';
import { FIREFOX, IP, MIDNIGHT, pageLoad } from './cookieless.helpers';
import { MIN, UA } from './sessionizer.helpers';

const H = 60 * MIN;
const SALTS = { '2026-12-01': '11'.repeat(32), '2026-12-02': '22'.repeat(32), '2026-12-03': '33'.repeat(32) };
const salt = saltsOf(SALTS);

const byKey = (rows: SessionRow[]) => [...rows].sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : 1));

describe('the salt of a request', () => {
  it("is its UTC day's; in the first two hours of a day the previous day's may be used too", () => {
    expect(SALT_GRACE).toBe(2 * H);
    expect(saltDays(MIDNIGHT - 1)).toEqual({ current: '2026-12-01' });
    expect(saltDays(MIDNIGHT)).toEqual({ current: '2026-12-02', previous: '2026-12-01' });
    expect(saltDays(MIDNIGHT + 2 * H - 1)).toEqual({ current: '2026-12-02', previous: '2026-12-01' });
    expect(saltDays(MIDNIGHT + 2 * H)).toEqual({ current: '2026-12-02' });
    // What is older than this is deleted (salts.ts).
    expect(oldestUsableDay(MIDNIGHT - 1)).toBe('2026-12-01');
    expect(oldestUsableDay(MIDNIGHT + 2 * H - 1)).toBe('2026-12-01');
    expect(oldestUsableDay(MIDNIGHT + 2 * H)).toBe('2026-12-02');
  });

  it('derives one device per salt, project, IP and User-Agent, and nothing else', () => {
    const a = cookielessDeviceId(salt('2026-12-01'), 7, IP, UA);
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(cookielessDeviceId(salt('2026-12-01'), '7', IP, UA)).toBe(a);
    expect(cookielessDeviceId(salt('2026-12-01'), 7, `::ffff:${IP}`, UA)).toBe(a); // the same address from a dual-stack socket
    const others = [
      cookielessDeviceId(salt('2026-12-02'), 7, IP, UA),
      cookielessDeviceId(salt('2026-12-01'), 8, IP, UA),
      cookielessDeviceId(salt('2026-12-01'), 7, '198.51.100.8', UA),
      cookielessDeviceId(salt('2026-12-01'), 7, IP, FIREFOX),
      cookielessDeviceId(salt('2026-12-01'), 7, IP, undefined),
    ];
    expect(new Set([a, ...others]).size).toBe(6);
  });

  it('takes a day and 64 hex digits from the command line, and nothing else', () => {
    expect(parseSalt(`2026-12-01=${'AB'.repeat(32)}`)).toEqual(['2026-12-01', 'ab'.repeat(32)]);
    for (const bad of [undefined, '2026-12-01', `2026-12-01=${'ab'.repeat(31)}`, `2026-13-01=${'ab'.repeat(32)}`, `2026-02-30=${'ab'.repeat(32)}`, `x=${'ab'.repeat(32)}`])
      expect(() => parseSalt(bad)).toThrow(/not a salt/);
    expect(parseArgs(['sessionize', '--salt', `2026-12-01=${'ab'.repeat(32)}`, '--salt', `2026-12-02=${'cd'.repeat(32)}`]).options.salts).toEqual({
      '2026-12-01': 'ab'.repeat(32),
      '2026-12-02': 'cd'.repeat(32),
    });
  });

  it('a salt made for a run is random, and the same for every request of that day in the run', () => {
    const run = saltsOf();
    expect(run('2026-12-05')).toBe(run('2026-12-05'));
    expect(Buffer.from(run('2026-12-05')).equals(Buffer.from(saltsOf()('2026-12-05')))).toBe(false);
    expect(run('2026-12-05')).toHaveLength(32);
  });
});

describe('a cookieless event', () => {
  it('gets the IDs of its derived device: one tab per device, visit and session IDs from its own id', () => {
    const event = { id: 'e1', type: 'track', name: 'x', ts: MIDNIGHT, seq: 3, tabId: 'tab-a', pageId: 'page-a' } as unknown as WireEvent;
    const filled = cookielessEvent(event, 'DEVICE');
    expect(filled).toMatchObject({ id: 'e1', deviceId: 'DEVICE', anonymousId: 'DEVICE', tabId: 'DEVICE', pageId: 'page-a', seq: 3 });
    expect(filled.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(filled.visitId).toBe(filled.sessionId);
    expect(cookielessEvent(event, 'DEVICE').sessionId).toBe(filled.sessionId); // deterministic
    expect(cookielessEvent({ ...event, id: 'e2' }, 'DEVICE').sessionId).not.toBe(filled.sessionId);
    expect(cookielessEvent(event, 'OTHER').sessionId).not.toBe(filled.sessionId);
    expect(filled.identityId).toBeUndefined();
  });

  it('is checked as the collector checks it: tabId and pageId required, the derived IDs refused', () => {
    const line = pageLoad(MIDNIGHT);
    expect(requestProblem(line)).toBeUndefined();
    const without = structuredClone(line);
    delete without.body.tabId;
    expect(requestProblem(without)).toBe('body.events[0].tabId must be a non-empty string (or body.tabId, shared by the batch)');
    for (const field of ['deviceId', 'anonymousId', 'identityId', 'visitId', 'sessionId']) {
      const atTop = structuredClone(line) as unknown as { body: Record<string, unknown> & { events: Record<string, unknown>[] } };
      atTop.body[field] = 'x';
      expect(requestProblem(atTop)).toBe(`body.${field}: a cookieless batch carries none (the device is derived)`);
      const onEvent = structuredClone(line) as unknown as { body: { events: Record<string, unknown>[] } };
      onEvent.body.events[1][field] = 'x';
      expect(requestProblem(onEvent)).toBe(`body.events[1].${field}: a cookieless batch carries none (the device is derived)`);
    }
    expect(requestProblem({ ...line, body: { ...line.body, cookieless: 'yes' } })).toBe('body.cookieless must be a boolean');
  });
});

describe('sessionize over cookieless requests', () => {
  const at = MIDNIGHT + 9 * H;

  it('one visit of three page loads is one row with three page views, tagged, with no IP', () => {
    const requests = [pageLoad(at), pageLoad(at + 2 * MIN, { path: '/shoes' }), pageLoad(at + 5 * MIN, { path: '/cart' })];
    const rows = sessionize(requests, { salts: SALTS });
    expect(rows).toHaveLength(1);
    const [row] = rows;
    const deviceId = cookielessDeviceId(salt('2026-12-02'), 7, IP, UA);
    expect(row).toMatchObject({
      projectId: 7,
      deviceId,
      anonymousId: deviceId,
      tabId: deviceId,
      identityId: null,
      tags: ['cookieless'],
      ipAddress: null,
      pageViewsCount: 3,
      activeTime: 12_000,
      userActionsCount: 6,
      initURLPath: '/',
      exitURLPath: '/cart',
      browserName: 'Chrome',
      sessionStart: new Date(at + 50).toISOString(), // received 50 ms after it was sent
    });
    expect(row.visitId).toBe(row.sessionId);
    expect(row.sessionId).toBe(cookielessEvent(requests[0].body.events[0] as WireEvent, deviceId).sessionId);
  });

  it('another User-Agent or another address is another device', () => {
    const rows = sessionize([pageLoad(at), pageLoad(at + MIN, { userAgent: FIREFOX }), pageLoad(at + 2 * MIN, { ip: '198.51.100.8' })], { salts: SALTS });
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((r) => r.deviceId)).size).toBe(3);
    expect(rows.map((r) => r.browserName).sort()).toEqual(['Chrome', 'Chrome', 'Firefox']);
  });

  it('30 minutes without activity start a new visit of the same device, as for any device', () => {
    const rows = byKey(sessionize([pageLoad(at), pageLoad(at + 10 * MIN), pageLoad(at + 45 * MIN)], { salts: SALTS }));
    expect(rows.map((r) => r.pageViewsCount)).toEqual([2, 1]);
    expect(rows[0].deviceId).toBe(rows[1].deviceId);
    expect(rows[0].visitId).not.toBe(rows[1].visitId);
  });

  it('a visit open at midnight goes on with the previous day’s device; a new one after midnight takes the new day’s', () => {
    const previous = cookielessDeviceId(salt('2026-12-01'), 7, IP, UA);
    const current = cookielessDeviceId(salt('2026-12-02'), 7, IP, UA);
    // 23:50, 00:10, 00:35: each less than 30 minutes after the one before.
    const across = sessionize([pageLoad(MIDNIGHT - 10 * MIN), pageLoad(MIDNIGHT + 10 * MIN), pageLoad(MIDNIGHT + 35 * MIN)], { salts: SALTS });
    expect(across).toHaveLength(1);
    expect(across[0]).toMatchObject({ deviceId: previous, pageViewsCount: 3 });
    // 23:50, then 00:25: the visit had ended (35 minutes), so the new day's device.
    const after = byKey(sessionize([pageLoad(MIDNIGHT - 10 * MIN), pageLoad(MIDNIGHT + 25 * MIN)], { salts: SALTS }));
    expect(after.map((r) => [r.deviceId, r.pageViewsCount])).toEqual([
      [previous, 1],
      [current, 1],
    ]);
    // Nothing the day before: the new day's device from midnight on.
    expect(sessionize([pageLoad(MIDNIGHT + 5 * MIN)], { salts: SALTS })[0].deviceId).toBe(current);
  });

  it('a page left after midnight stays with its page view, even past 30 minutes without activity, while reports keep coming', () => {
    const view = pageLoad(MIDNIGHT - 20 * MIN);
    view.body.events = view.body.events.slice(0, 1);
    // The page stays open with its pings every 10 minutes (reports, not activity), and is left at 00:25.
    const ping = (k: number): ReceivedRequest => {
      const at = MIDNIGHT - 20 * MIN + k * 10 * MIN;
      const body = { v: 1, projectId: 7, sentAt: at, cookieless: true, tabId: view.body.tabId, pageId: view.body.pageId, events: [{ id: `ping-${k}`, type: k === 4 ? 'page_leave' : 'page_ping', ts: at, seq: k, activeTime: k * 1000, userActions: 0 }] };
      return { receivedAt: at + 50, ip: IP, userAgent: UA, body: body as unknown as Batch };
    };
    const rows = sessionize([view, ping(1), ping(2), ping(3), ping(4)], { salts: SALTS });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ deviceId: cookielessDeviceId(salt('2026-12-01'), 7, IP, UA), pageViewsCount: 1, activeTime: 4000 });
  });

  it('the previous day’s device ends two hours after midnight, however long its visit goes on', () => {
    const chain = Array.from({ length: 7 }, (_, k) => pageLoad(MIDNIGHT - 10 * MIN + k * 25 * MIN)); // 23:50 ... 02:20
    const rows = byKey(sessionize(chain, { salts: SALTS }));
    expect(rows.map((r) => [r.deviceId, r.pageViewsCount])).toEqual([
      [cookielessDeviceId(salt('2026-12-01'), 7, IP, UA), 6],
      [cookielessDeviceId(salt('2026-12-02'), 7, IP, UA), 1],
    ]);
  });

  it('a beacon retried after midnight is the same device, so it is stored once', () => {
    const first = pageLoad(MIDNIGHT - 2 * MIN);
    const retry = { ...first, receivedAt: MIDNIGHT + 3 * MIN, body: { ...first.body, sentAt: MIDNIGHT + 3 * MIN } };
    const rows = sessionize([first, retry], { salts: SALTS });
    expect(rows).toHaveLength(1);
    expect(rows[0].pageViewsCount).toBe(1);
  });

  it('gives the same rows whatever the order of the requests', () => {
    const requests = [
      ...Array.from({ length: 7 }, (_, k) => pageLoad(MIDNIGHT - 10 * MIN + k * 25 * MIN)),
      ...Array.from({ length: 5 }, (_, k) => pageLoad(MIDNIGHT - 40 * MIN + k * 20 * MIN, { userAgent: FIREFOX })),
      pageLoad(MIDNIGHT + 26 * H - 5 * MIN),
      pageLoad(MIDNIGHT + 26 * H + 5 * MIN),
      pageLoad(MIDNIGHT + 24 * H + 30 * MIN),
    ];
    const expected = byKey(sessionize(requests, { salts: SALTS }));
    expect(expected.length).toBeGreaterThan(3);
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let round = 0; round < 20; round++) {
      const shuffled = [...requests].sort(() => random() - 0.5);
      expect(byKey(sessionize(shuffled, { salts: SALTS }))).toEqual(expected);
    }
  });

  it('decides a request in a salt’s grace only once the requests before it may have come, within the disorder allowed', () => {
    const devices = new CookielessRequests({ salt, inactivity: 30 * MIN, disorder: 10 * MIN });
    const before = pageLoad(MIDNIGHT - 5 * MIN);
    const held = pageLoad(MIDNIGHT + 5 * MIN);
    // Out of order: the request after midnight comes first, and waits.
    expect(devices.take(held)).toEqual([]);
    const [taken] = devices.take(before);
    expect(taken.body.events[0].deviceId).toBe(cookielessDeviceId(salt('2026-12-01'), 7, IP, UA));
    expect(taken.ip).toBeUndefined();
    // A request more than 10 minutes later releases it (and waits itself), decided with the one before it: the previous day's device.
    const [released, ...none] = devices.take(pageLoad(MIDNIGHT + 16 * MIN));
    expect(none).toEqual([]);
    expect(released.body.pageId).toBe(undefined);
    expect(released.body.events[0]).toMatchObject({ pageId: held.body.pageId, deviceId: cookielessDeviceId(salt('2026-12-01'), 7, IP, UA) });
    const [later] = devices.flush();
    expect(later.body.events[0].deviceId).toBe(cookielessDeviceId(salt('2026-12-01'), 7, IP, UA));
    expect(devices.flush()).toEqual([]);
    const plain = { receivedAt: MIDNIGHT, body: { v: 1, sentAt: MIDNIGHT, events: [] } } as unknown as ReceivedRequest;
    expect(devices.take(plain)).toEqual([plain]); // not cookieless: as it is
  });

  it('the sessionize command gives the rows of sessionize, and with the days’ salts the same device IDs', async () => {
    const requests = [
      ...Array.from({ length: 7 }, (_, k) => pageLoad(MIDNIGHT - 10 * MIN + k * 25 * MIN)),
      pageLoad(MIDNIGHT - 50 * MIN, { userAgent: FIREFOX }),
      pageLoad(MIDNIGHT + 15 * MIN, { userAgent: FIREFOX }),
    ];
    const command = async (args: string[]) => {
      const input = new PassThrough();
      const output = new PassThrough();
      const errors = new PassThrough();
      let out = '';
      output.on('data', (d) => (out += d));
      errors.resume();
      input.end(requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
      expect(await sessionizeCommand(input, output, errors, parseArgs(['sessionize', ...args]).options)).toBe(0);
      return byKey(out.trim().split('\n').map((l) => JSON.parse(l) as SessionRow));
    };
    const expected = byKey(sessionize(requests, { salts: SALTS }));
    expect(await command(Object.entries(SALTS).flatMap(([day, hex]) => ['--salt', `${day}=${hex}`]))).toEqual(expected);
    // Without them: salts made for the run, so the same grouping under other IDs.
    const ids = ['deviceId', 'anonymousId', 'tabId', 'visitId', 'sessionId'] as const;
    const strip = (rows: SessionRow[]) => rows.map((r) => ({ ...r, ...Object.fromEntries(ids.map((k) => [k, typeof r[k]])) })).sort((a, b) => a.sessionStart.localeCompare(b.sessionStart));
    const own = await command([]);
    expect(strip(own)).toEqual(strip(expected));
    expect(own.map((r) => r.deviceId)).not.toContain(expected[0].deviceId);
  });
});

// @vitest-environment node
// `sessionbeacon sessionize` (exact, the default) as users run it, after npm run build:
// its rows equal sessionize()'s over the whole input for a log in the worst order,
// within its memory budget and past it (spilled to temporary files, which are removed).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Batch, WireEvent } from '../src/protocol';
import { rowKey, sessionize, type ReceivedRequest, type SessionRow } from '../src/server/sessionizer';
import { ev, MIN, req } from './sessionizer.helpers';
import { MIDNIGHT, pageLoad } from './cookieless.helpers';
import { random, shuffled } from './support/random';
import { CLI } from './support/processes.mjs';

const H = 60 * MIN;
const SALTS = { '2026-12-01': 'aa'.repeat(32), '2026-12-02': 'bb'.repeat(32) };
const SALT_ARGS = Object.entries(SALTS).flatMap(([day, hex]) => ['--salt', `${day}=${hex}`]);
const temporary = mkdtempSync(join(tmpdir(), 'sb-cli-exact-'));
afterAll(() => rmSync(temporary, { recursive: true, force: true }));

function run(args: string[], lines: string[], env: Record<string, string> = {}): Promise<{ code: number; rows: SessionRow[]; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'sessionize', ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code: code ?? -1, rows: out.trim() ? out.trim().split('\n').map((l) => JSON.parse(l) as SessionRow) : [], err }));
    child.stdin.end(lines.join('\n') + '\n');
  });
}

// The device too: two devices' rows may share a primary key (the relayed requests below), and then the order must not depend on the run.
const keyOf = (r: SessionRow) => `${rowKey(r)}\u0000${r.deviceId}`;
const byKey = (rows: SessionRow[]) => [...rows].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));

/**
 * A log that no horizon can sessionize: 80 devices with two or three visits a
 * day apart, their events in requests of one to four; a third of the requests
 * flushed 8 to 30 hours late from an offline queue (received then, their events'
 * times unchanged), so each device's requests are spread over more than the
 * horizon; retried copies; requests holding two devices' events; and cookieless
 * page loads around midnight (their device decided by the previous day's visit).
 */
function hostileLog(seed: number): ReceivedRequest[] {
  const rand = random(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const requests: ReceivedRequest[] = [];
  for (let d = 0; d < 80; d++) {
    const deviceId = `device-${d}`;
    const events: WireEvent[] = [];
    let t = MIDNIGHT - 30 * H + pick(6 * H);
    for (let v = 0; v < 2 + pick(2); v++) {
      const visitId = `visit-${d}-${v}`;
      for (let p = 0; p < 1 + pick(4); p++) {
        const tabId = `tab-${d}-${v}-${pick(2)}`;
        const pageId = `page-${d}-${v}-${p}`;
        const ids = { deviceId, anonymousId: `anon-${d}`, visitId, sessionId: `${visitId}-${tabId}`, tabId, pageId };
        events.push(ev(t, { ...ids, type: 'page_view', url: `https://shop.example/p/${pick(9)}?utm_source=s${pick(3)}`, title: 'P', navigationType: p ? 'route' : 'navigate' }));
        events.push(ev(t + 5_000 + pick(20_000), { ...ids, type: 'track', name: 'click' }));
        events.push(ev(t + 40_000, { ...ids, type: 'page_leave', activeTime: pick(30_000), userActions: pick(4) }));
        // Some pages come 29 to 31 minutes after the one before: visits cut or kept to the millisecond.
        t += rand() < 0.2 ? 29 * MIN + pick(2 * MIN) : 60_000 + pick(5 * MIN);
      }
      t += 20 * H + pick(8 * H);
    }
    for (let i = 0; i < events.length; ) {
      const group = events.slice(i, (i += 1 + pick(4)));
      const sent = group[group.length - 1].ts + 100;
      const late = rand() < 0.33 ? 8 * H + pick(22 * H) : 0;
      // A late batch is sent when the queue is flushed: sentAt is then, its events keep their ts.
      const request = req(group, { sentAt: sent + late, skew: pick(60_000) - 30_000 });
      requests.push(request);
      if (rand() < 0.1) requests.push({ ...request, receivedAt: request.receivedAt + 3_000 + pick(10 * H) });
    }
  }
  // Requests with two devices' events (a relay that batches several clients).
  for (let k = 0; k < 10; k++) {
    const a = ev(MIDNIGHT - 2 * H + k * MIN, { deviceId: `device-${k}`, anonymousId: `anon-${k}`, type: 'track', name: 'relayed' });
    const b = ev(MIDNIGHT - 2 * H + k * MIN, { deviceId: `device-${k + 40}`, anonymousId: `anon-${k + 40}`, type: 'track', name: 'relayed' });
    requests.push(req([a, b], { sentAt: MIDNIGHT + 5 * H }));
  }
  // Cookieless page loads across midnight: three people (IP, User-Agent) every 20 minutes.
  for (let k = 0; k < 12; k++) for (let who = 0; who < 3; who++) requests.push(pageLoad(MIDNIGHT - 90 * MIN + k * 20 * MIN + who * 1000, { ip: `198.51.100.${who + 1}` }));
  return requests;
}

/** The log in the order a collector's log has it: by receivedAt. Late requests come hours after their device's others. */
const byArrival = (requests: ReceivedRequest[]) => [...requests].sort((a, b) => a.receivedAt - b.receivedAt);

describe('sessionbeacon sessionize, exact', () => {
  const log = hostileLog(7);
  const expected = byKey(sessionize(log, { salts: SALTS }));

  it('gives the rows of sessionize() over a log whose devices each span more than the horizon, in arrival, reversed and shuffled order', async () => {
    expect(expected.length).toBeGreaterThan(150);
    for (const order of [byArrival(log), byArrival(log).reverse(), shuffled(log, random(11))]) {
      const { code, rows, err } = await run(SALT_ARGS, order.map((r) => JSON.stringify(r)));
      expect(code).toBe(0);
      expect(err).toMatch(/exact, in memory/);
      expect(byKey(rows)).toEqual(expected);
    }
  }, 60_000);

  it('the same log through --horizon 6h splits sessions, and says how many devices came back after being forgotten', async () => {
    const { code, rows, err } = await run([...SALT_ARGS, '--horizon', '6h'], byArrival(log).map((r) => JSON.stringify(r)));
    expect(code).toBe(0);
    const returned = Number(/(\d+) devices came back after being forgotten/.exec(err)?.[1]);
    expect(returned).toBeGreaterThan(10);
    expect(byKey(rows)).not.toEqual(expected);
  }, 30_000);

  it('past --memory, spills to temporary files by device, gives the same rows, and removes the files', async () => {
    const own = mkdtempSync(join(temporary, 'spill-'));
    // 16 KB: the first 64 partitions are over the budget too, so they are partitioned again.
    const { code, rows, err } = await run([...SALT_ARGS, '--memory', '16KB'], shuffled(log, random(5)).map((r) => JSON.stringify(r)), { TMPDIR: own });
    expect(code).toBe(0);
    const files = Number(/spilled to (\d+) temporary files \(removed\)/.exec(err)?.[1]);
    expect(files).toBeGreaterThan(64);
    expect(byKey(rows)).toEqual(expected);
    expect(readdirSync(own)).toEqual([]);
  }, 30_000);

  it.each([[[]], [['--jobs', '2']]])('removes its temporary files when interrupted (SIGTERM) while spilling %j', async (jobs: string[]) => {
    const own = mkdtempSync(join(temporary, 'interrupted-'));
    const child = spawn(process.execPath, [CLI, 'sessionize', '--memory', '1KB', ...jobs], { env: { ...process.env, TMPDIR: own } });
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdout.resume();
    child.stderr.resume();
    // With --jobs, lines go to the workers 256 at a time: enough of them that each worker has some.
    for (const r of jobs.length ? [...log, ...log] : log.slice(0, 200)) child.stdin.write(JSON.stringify(r) + '\n');
    // The input stays open: the run is reading, its partition files in a folder of its own.
    await expect.poll(() => readdirSync(own).length, { timeout: 10_000 }).toBe(1);
    // One folder of the run; with --jobs, each worker's inside it.
    const files = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((k, e) => k + (e.isDirectory() ? files(join(dir, e.name)) : 1), 0);
    await expect.poll(() => files(own), { timeout: 10_000 }).toBeGreaterThanOrEqual(64);
    child.kill('SIGTERM');
    expect(await closed).toBe(143);
    expect(readdirSync(own)).toEqual([]);
  }, 30_000);

  it('removes its temporary files when the reader of its output goes away (EPIPE, as `| head` does)', async () => {
    const own = mkdtempSync(join(temporary, 'epipe-'));
    const child = spawn(process.execPath, [CLI, 'sessionize', ...SALT_ARGS, '--memory', '1KB'], { env: { ...process.env, TMPDIR: own } });
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stderr.resume();
    child.stdout.destroy(); // the reader is gone before the first row
    for (const r of log.slice(0, 200)) child.stdin.write(JSON.stringify(r) + '\n');
    child.stdin.end();
    expect(await closed).not.toBe(0);
    expect(readdirSync(own)).toEqual([]);
  }, 30_000);

  it('with --jobs 3 (worker threads sharing the devices), in memory and spilled, gives the same rows and reports bad lines by number', async () => {
    const own = mkdtempSync(join(temporary, 'jobs-'));
    const lines = shuffled(log, random(3)).map((r) => JSON.stringify(r));
    // Two bad lines. The relayed requests (two devices each) and the cookieless ones (no deviceId to guess from) are passed on between workers.
    lines.splice(5, 0, '{broken', JSON.stringify({ receivedAt: 1 }));
    for (const memory of ['1GB', '16KB']) {
      const { code, rows, err } = await run([...SALT_ARGS, '--jobs', '3', '--memory', memory], lines, { TMPDIR: own });
      expect(code).toBe(0);
      expect(err).toContain('line 6: malformed JSON');
      expect(err).toContain('line 7: receivedAt must be a number');
      expect(err).toMatch(memory === '1GB' ? /exact with 3 jobs, in memory/ : /exact with 3 jobs, spilled to \d+ temporary files \(removed\)/);
      expect(err).toMatch(new RegExp(`${lines.length} lines \\(2 skipped\\)`));
      expect(byKey(rows)).toEqual(expected);
      expect(readdirSync(own)).toEqual([]);
    }
  }, 30_000);

  it('takes a batch whose ID fields are shared at its top like one with them on every event', async () => {
    const events = [ev(MIDNIGHT, { type: 'page_view', url: 'https://a.example/' }), ev(MIDNIGHT + MIN)];
    const { deviceId, anonymousId, visitId, sessionId, tabId, pageId } = events[0];
    const top = { ...req(events), body: { ...req(events).body, deviceId, anonymousId, visitId, sessionId, tabId, pageId, events: events.map(({ deviceId: _d, anonymousId: _a, visitId: _v, sessionId: _s, tabId: _t, pageId: _p, ...e }) => e) } as unknown as Batch };
    for (const memory of ['1GB', '1KB']) {
      const { rows } = await run(['--memory', memory], [JSON.stringify(top)]);
      expect(rows).toEqual(sessionize([req(events)]));
    }
  }, 30_000);
});

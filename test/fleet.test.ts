// @vitest-environment node
// A fleet of collectors (docs/scaling.md): several `sessionbeacon serve` processes
// (the built command, as users run it) on one real PostgreSQL, each request to a
// random one, as a load balancer without sticky routing sends them. A seeded
// workload of devices with several visits and tabs, an identify mid-visit,
// batches overtaking each other, retried beacons sent to two processes at once;
// one process SIGKILLed mid-traffic and restarted. Afterwards every acknowledged
// event is stored once, atomic.session equals a batch sessionization of
// atomic.events row for row, and every process answers the same rows. Then the
// same through `serve --workers 2`, with a worker SIGKILLed and replaced.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch, WireEvent } from '../src/protocol';
import { hashToken, openPostgres, type Database } from '../src/server';
import { expectedRows, postgresAvailable, postgresBackend, sessionRows, storedEvents } from './support/databases';
import { PG_BIN, startServe, type Served } from './support/processes.mjs';
import { random, shuffled } from './support/random';

const MIN = 60_000;
const TOKEN = 'fleet-read-token';

/**
 * The seeded workload: devices with two or three visits (45 minutes or more
 * apart), one to three tabs per visit, pages with tracks, pings and a page
 * leave, and an identify in the middle of the second visit; each tab's events
 * cut into batches of one to six, as the SDK sends them.
 */
function workload(seed: number, devices: number): Batch[] {
  const rand = random(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const batches: Batch[] = [];
  const start = Date.now() - 5 * 60 * MIN;
  let n = 0;
  for (let d = 0; d < devices; d++) {
    const device = { deviceId: `dev${d}.${seed}`, anonymousId: `anon${d}` };
    let identityId: string | undefined;
    let at = start + pick(20 * MIN);
    const visits = 2 + pick(2);
    for (let v = 0; v < visits; v++) {
      const visitId = `visit${d}.${v}`;
      const tabs = 1 + pick(3);
      const visitStart = at;
      let visitEnd = at;
      for (let t = 0; t < tabs; t++) {
        const tab = { ...device, visitId, tabId: `tab${d}.${v}.${t}`, sessionId: `session${d}.${v}.${t}` };
        let ts = visitStart + t * 20_000 + pick(10_000);
        let seq = 0;
        const events: WireEvent[] = [];
        const pages = 1 + pick(3);
        for (let p = 0; p < pages; p++) {
          const pageId = `page${d}.${v}.${t}.${p}`;
          const ev = (over: Record<string, unknown>): WireEvent => {
            ts += 1000 + pick(60_000);
            return { ...tab, pageId, id: `e${seed}.${n++}`, ts, seq: seq++, ...(identityId ? { identityId } : {}), ...over } as WireEvent;
          };
          events.push(ev({ type: 'page_view', url: `https://shop.example/${v}/${p}?utm_source=fleet`, title: `Page ${p}`, navigationType: p ? 'route' : 'navigate', language: 'en-GB' }));
          for (let k = pick(3); k > 0; k--) events.push(ev({ type: 'track', name: 'add_to_cart', properties: { sku: `SKU${k}` } }));
          if (v === 1 && t === 0 && p === 0 && !identityId) {
            identityId = `user${d}`;
            events.push(ev({ type: 'identify' }));
          }
          events.push(ev({ type: 'page_ping', activeTime: 4000 + pick(4000), userActions: pick(5) }));
          events.push(ev({ type: 'page_leave', activeTime: 9000 + pick(9000), userActions: 5 + pick(5) }));
        }
        visitEnd = Math.max(visitEnd, ts);
        for (let i = 0; i < events.length; ) {
          const size = 1 + pick(6);
          const chunk = events.slice(i, i + size);
          i += size;
          batches.push({ v: 1, projectId: 1, sentAt: chunk[chunk.length - 1].ts + pick(3000), sdk: 'fleet-test', events: chunk });
        }
      }
      at = visitEnd + 45 * MIN + pick(30 * MIN);
    }
  }
  return batches;
}

type Answer = { ok: true; accepted: number; duplicates: number } | { ok: false; status: number };

async function post(url: string, batch: Batch): Promise<Answer> {
  try {
    const response = await fetch(`${url}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(batch), signal: AbortSignal.timeout(15_000) });
    if (!response.ok) return { ok: false, status: response.status };
    const { accepted, duplicates } = (await response.json()) as { accepted: number; duplicates: number };
    return { ok: true, accepted, duplicates };
  } catch {
    return { ok: false, status: 0 }; // the process died with the request in flight: not acknowledged
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The rows a collector answers on GET /sessions, all of them. */
async function rowsFrom(url: string): Promise<unknown[]> {
  const from = Date.now() - 24 * 60 * MIN;
  const response = await fetch(`${url}/sessions?from=${from}&to=${Date.now() + 60 * MIN}&limit=1000`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { sessions: unknown[] }).sessions;
}

/** The child processes of a process, from /proc (the workers of `serve --workers`). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

if (!postgresAvailable() && process.env.CI) throw new Error(`PostgreSQL not found at ${PG_BIN} (install Debian's postgresql, or set SESSIONBEACON_PG_URL)`);

describe.skipIf(!postgresAvailable())('a fleet of collectors on one PostgreSQL', () => {
  const pg = postgresBackend();
  const dir = mkdtempSync(join(tmpdir(), 'sb-fleet-'));
  const config = join(dir, 'config.json');
  const started: Served[] = [];
  const serve = async (database: string, extra: string[] = []) => {
    const member = await startServe(['--database', database, '--config', config, '--quiet', ...extra], { timeout: 120_000 });
    started.push(member);
    return member;
  };

  beforeAll(() => {
    // Limits out of the way: every request comes from 127.0.0.1.
    writeFileSync(config, JSON.stringify({ projects: [{ id: 1, origins: ['*'], readTokens: [hashToken(TOKEN)], eventsPerMinute: 1e9 }], requestsPerMinutePerIp: 1e9 }));
  });
  afterAll(async () => {
    for (const member of started) await member.stop('SIGKILL');
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Checks the database after the traffic: every event once, the rows those of a batch run. */
  async function expectExact(database: string, batches: Batch[]): Promise<void> {
    const db: Database = await openPostgres(database);
    try {
      const stored = await storedEvents(db);
      const ids = stored.map((e) => e.event.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(batches.flatMap((b) => b.events.map((e) => e.id)).sort());
      const rows = await sessionRows(db);
      expect(rows).toEqual(expectedRows(stored));
      // The workload did what it says: several visits and tabs per device, the identity stitched.
      expect(rows.length).toBeGreaterThan(new Set(rows.map((r) => r.deviceId)).size * 2);
      expect(rows.some((r) => r.identityId)).toBe(true);
    } finally {
      await db.close();
    }
  }

  it('three processes, requests to any of them, one SIGKILLed mid-traffic and restarted: every acknowledged event stored once, rows == batch', async () => {
    const database = await pg.createDatabase();
    const batches = workload(12, 30);
    const rand = random(99);
    // Started at the same moment: they migrate one at a time (an advisory lock).
    const members = await Promise.all([0, 1, 2].map(() => serve(database)));
    const live = new Set(members);
    const served = new Map<Served, number>();
    const anyLive = () => [...live][Math.floor(rand() * live.size)];
    let acked = 0;
    let killedAt = -1;
    let restart: Promise<void> | undefined;
    const queue = shuffled(batches, rand);

    // Sends until acknowledged, as the SDK retries; a fifth of the batches go to two processes at once.
    const deliver = async (batch: Batch) => {
      for (let attempt = 0; ; attempt++) {
        expect(attempt).toBeLessThan(100);
        const targets = [anyLive()];
        if (rand() < 0.2 && live.size > 1) targets.push([...live].filter((m) => m !== targets[0])[Math.floor(rand() * (live.size - 1))]);
        const answers = await Promise.all(targets.map((m) => post(m.url, batch)));
        answers.forEach((a, i) => a.ok && served.set(targets[i], (served.get(targets[i]) ?? 0) + 1));
        const ok = answers.filter((a) => a.ok) as { accepted: number; duplicates: number }[];
        if (ok.length) {
          for (const a of ok) expect(a.accepted + a.duplicates).toBe(batch.events.length);
          return;
        }
        await pause(50);
      }
    };
    const sender = async () => {
      for (let batch = queue.shift(); batch; batch = queue.shift()) {
        await deliver(batch);
        if (++acked >= batches.length * 0.4 && killedAt < 0) {
          // SIGKILL with requests in flight (the other senders), then a new process on the same database.
          killedAt = acked;
          const victim = members[0];
          live.delete(victim);
          victim.child.kill('SIGKILL');
          restart = victim.exited.then(async () => void live.add(await serve(database)));
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(batches.length);
    await restart;
    expect(live.size).toBe(3);
    for (const m of members) expect(served.get(m) ?? 0).toBeGreaterThan(0);

    // Retries of acknowledged batches (answers lost on the way): acknowledged, nothing stored twice.
    for (const batch of shuffled(batches, rand).slice(0, 20)) {
      const answer = await post(anyLive().url, batch);
      expect(answer).toEqual({ ok: true, accepted: 0, duplicates: batch.events.length });
    }

    await expectExact(database, batches);
    // Every process answers the same rows.
    const answers = await Promise.all([...live].map((m) => rowsFrom(m.url)));
    expect(answers[0].length).toBeGreaterThan(batches.length / 10);
    for (const a of answers.slice(1)) expect(a).toEqual(answers[0]);
  }, 300_000);

  it('serve --workers 2: both serve, a worker SIGKILLed is replaced, rows == batch', async () => {
    const database = await pg.createDatabase();
    const batches = workload(34, 20);
    const rand = random(7);
    const supervisor = await serve(database, ['--workers', '2']);
    expect(supervisor.output()).toMatch(/PostgreSQL, 2 workers/);
    const workers = childrenOf(supervisor.child.pid!);
    expect(workers).toHaveLength(2);
    const queue = shuffled(batches, rand);
    let sent = 0;
    let replaced: number[] = [];
    const sender = async () => {
      for (let batch = queue.shift(); batch; batch = queue.shift()) {
        for (let attempt = 0; !(await post(supervisor.url, batch)).ok; attempt++) {
          expect(attempt).toBeLessThan(100);
          await pause(50);
        }
        if (++sent === Math.floor(batches.length / 3)) process.kill(workers[0], 'SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: 6 }, sender));
    // The supervisor started another worker in place of the one killed.
    await expect
      .poll(() => {
        replaced = childrenOf(supervisor.child.pid!);
        return replaced.length === 2 && !replaced.includes(workers[0]);
      }, { timeout: 30_000 })
      .toBe(true);
    expect(replaced).toContain(workers[1]);
    expect(supervisor.output()).toMatch(new RegExp(`worker ${workers[0]} exited \\(SIGKILL\\); starting another`));
    await expectExact(database, batches);
    // A clean stop: SIGTERM to the supervisor stops its workers and exits 0.
    await supervisor.stop();
    expect(supervisor.child.exitCode).toBe(0);
    for (const pid of replaced) expect(() => process.kill(pid, 0)).toThrow();
  }, 300_000);
});

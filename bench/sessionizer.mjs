// Sessionizer figures, for a seeded workload of 200k and 1M events:
// - the whole job next to DuckDB's, in the same run: read an NDJSON log, sessionize,
//   write NDJSON (`sessionbeacon sessionize`, exact, --jobs 2 and --horizon 6h, against
//   bench/duckdb-job.mjs), each a process of its own, timed from start to exit;
// - the library in memory: events/s and peak memory (max RSS of a process of its own),
//   batch and incremental.
//   npm run bench:sessionizer     (after npm run build; PARTS=job or PARTS=library for one part)
// A benchmark, not a test: it prints figures and never fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 1);

/** Mulberry32: a small seeded PRNG, so every run measures the same workload. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * About `target` events as received requests, in receivedAt order like a
 * collector's log: devices with 1 to 4 visits (gaps of 31 min to 3 days), 1 to 3
 * tabs per visit, pages with views, tracks, pings and leaves; batches of 1 to 12
 * events; 4% of batches retried (duplicates), 2% sent hours late from an offline
 * queue; client clocks up to an hour off.
 */
export function workload(target, seed = 42) {
  const rand = prng(seed);
  const pick = (n) => Math.floor(rand() * n);
  const requests = [];
  let events = 0;
  let d = 0;
  while (events < target) {
    // IDs are 21 characters like the SDK's nanoids, and unique per device, visit, tab, page and event.
    const device = (d++).toString(36);
    const id21 = (prefix) => `${prefix}${device}`.padEnd(21, '_');
    const deviceId = id21('d.');
    const skew = pick(7_200_000) - 3_600_000;
    let t = T0 + pick(28 * 24 * 60) * MIN;
    let seq = 0;
    const visits = 1 + pick(4);
    for (let v = 0; v < visits; v++) {
      const visitId = id21(`v${v}.`);
      const tabs = 1 + pick(3);
      for (let tb = 0; tb < tabs; tb++) {
        const tabId = id21(`t${v}.${tb}.`);
        let ts = t + tb * pick(5 * MIN);
        const batch = [];
        const pages = 1 + pick(5);
        for (let p = 0; p < pages; p++) {
          const pageId = id21(`p${v}.${tb}.${p}.`);
          const base = () => ({ id: id21(`e${seq}.`), ts, seq: seq++, deviceId, anonymousId: deviceId, visitId, sessionId: tabId, tabId, pageId });
          batch.push({ ...base(), type: 'page_view', url: `https://shop.example/p/${pick(500)}?utm_source=${['news', 'ads', 'social'][pick(3)]}`, title: 'Product', referrer: 'https://search.example/', navigationType: p ? 'route' : 'navigate', screenWidth: 1920, screenHeight: 1080, maxTouchPoints: 0, language: 'en-GB', timezoneIANA: 'Europe/London', timezoneOffset: 0 });
          ts += 1000 + pick(30_000);
          for (let k = pick(4); k > 0; k--) {
            batch.push({ ...base(), type: 'track', name: 'add_to_cart', properties: { sku: `SKU-${pick(1000)}` } });
            ts += pick(20_000);
          }
          batch.push({ ...base(), type: 'page_ping', activeTime: pick(30_000), userActions: pick(5), domInteractive: 300, domContentLoaded: 320, load: 800 });
          ts += pick(60_000);
          batch.push({ ...base(), type: 'page_leave', activeTime: pick(60_000), userActions: pick(8) });
        }
        for (let i = 0; i < batch.length; ) {
          const size = 1 + pick(12);
          const group = batch.slice(i, i + size);
          i += size;
          const last = group[group.length - 1].ts;
          const late = rand() < 0.02 ? 3_600_000 + pick(10 * 3_600_000) : 0;
          const sentAt = last + 200 + late;
          const body = { v: 1, projectId: 1, sentAt, sdk: '0.1.0', events: group };
          const request = { receivedAt: sentAt - skew + 30 + pick(200), ip: `198.51.${d % 250}.${pick(250)}`, userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36', body };
          requests.push(request);
          events += group.length;
          if (rand() < 0.04) {
            const retry = { ...request, receivedAt: request.receivedAt + 5000 + pick(60_000), body: { ...body, sentAt: sentAt + 5000 } };
            requests.push(retry);
            events += group.length;
          }
        }
        t = Math.max(t, ts);
      }
      t += 31 * MIN + pick(3 * 24 * 60) * MIN;
    }
  }
  requests.sort((a, b) => a.receivedAt - b.receivedAt);
  return { requests, events, devices: d };
}

/** One measurement, in this process: prints JSON. */
async function measure(mode, size) {
  const { sessionize, Engine, storedEvents, rowKey } = await import('sessionbeacon-server');
  const { requests, events, devices } = workload(size);
  // The stand-in store holds every event, as the collector's database would: counted in the RSS.
  const before = process.resourceUsage().maxRSS;
  const start = performance.now();
  let rows = 0;
  if (mode === 'batch') rows = sessionize(requests).length;
  else if (mode === 'floor') {
    // Not a sessionizer: the least any sessionizer over these JavaScript objects does (group by
    // device, dedupe by id, sort by time), to show what the input's memory layout costs alone.
    const devices = new Map();
    for (const r of requests)
      for (const e of r.body.events) {
        let list = devices.get(e.deviceId);
        if (!list) devices.set(e.deviceId, (list = new Map()));
        list.set(e.id, e);
      }
    for (const list of devices.values()) rows += [...list.values()].sort((a, b) => a.ts - b.ts || a.seq - b.seq).length ? 1 : 0;
  } else {
    // As the collector does: one request at a time, devices forgotten 6 h after their last
    // event and reloaded from storage (here a Map standing in for its table of raw events)
    // when a late event comes; the changes are applied to the session table (here, its keys).
    const store = new Map();
    const engine = new Engine({ horizon: 6 * 3_600_000, reload: (projectId, deviceId) => store.get(`${projectId}/${deviceId}`) ?? [] });
    const table = new Set();
    let k = 0;
    for (const r of requests) {
      for (const c of engine.ingest(r)) c.op === 'upsert' ? table.add(rowKey(c.row)) : table.delete(rowKey(c.key));
      for (const e of storedEvents(r)) {
        const key = `${e.projectId}/${e.event.deviceId}`;
        store.get(key)?.push(e) ?? store.set(key, [e]);
      }
      if (++k % 1000 === 0) engine.evict();
    }
    rows = table.size;
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ mode, events, devices, requests: requests.length, rows, seconds, eventsPerSecond: Math.round(events / seconds), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), workloadRssMB: Math.round(before / 1024) }));
}

const CLI = fileURLToPath(new URL('../packages/server/bin/sessionbeacon.mjs', import.meta.url));
const DUCKDB_JOB = fileURLToPath(new URL('./duckdb-job.mjs', import.meta.url));
const TIME = '/usr/bin/time';

/** Runs a command with stdin and stdout as files; its wall seconds and (with GNU time) peak RSS. */
function timed(args, input, output) {
  const withTime = existsSync(TIME);
  const stdio = [input ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  const start = performance.now();
  const shell = `${withTime ? `${TIME} -f '%M' ` : ''}${args.map((a) => `'${a}'`).join(' ')}${input ? ` < '${input}'` : ''}${output ? ` > '${output}'` : ''}`;
  const r = spawnSync('sh', ['-c', shell], { stdio, encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  const rss = withTime ? Number(r.stderr.trim().split('\n').at(-1)) / 1024 : NaN;
  return { seconds, rssMB: Math.round(rss), stdout: r.stdout, stderr: r.stderr };
}

const lineCount = (path) => Number(execFileSync('wc', ['-l', path], { encoding: 'utf8' }).trim().split(/\s+/)[0]);

/**
 * The whole job, in one run: the log written once, then each tool RUNS times in turn
 * (interleaved, so that the machine's other load falls on all alike); the best run of each.
 */
function wholeJob(sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-job-'));
  const runs = Number(process.env.RUNS ?? 3);
  const results = [];
  try {
    for (const size of sizes) {
      const { requests, events } = workload(size);
      const log = join(dir, 'requests.ndjson');
      writeFileSync(log, requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const megabytes = statSync(log).size / 2 ** 20;
      const tools = [
        { name: 'sessionbeacon sessionize (exact)', args: [process.execPath, CLI, 'sessionize'] },
        { name: 'sessionbeacon sessionize --jobs 2 (exact)', args: [process.execPath, CLI, 'sessionize', '--jobs', '2'] },
        { name: 'sessionbeacon sessionize --horizon 6h', args: [process.execPath, CLI, 'sessionize', '--horizon', '6h'] },
        { name: 'DuckDB (bench/duckdb-job.mjs)', duckdb: true },
      ];
      const best = new Map();
      for (let run = 0; run < runs; run++)
        for (const tool of tools) {
          const out = join(dir, 'sessions.ndjson');
          const r = tool.duckdb ? timed([process.execPath, DUCKDB_JOB, log, out]) : timed(tool.args, log, out);
          const rows = lineCount(out);
          const detail = tool.duckdb ? JSON.parse(r.stdout.trim().split('\n').at(-1)) : undefined;
          const returned = /(\d+) devices came back/.exec(r.stderr)?.[1];
          rmSync(out, { force: true });
          const had = best.get(tool.name);
          if (!had || r.seconds < had.seconds) best.set(tool.name, { ...r, rows, detail, returned });
        }
      const duck = best.get(tools.at(-1).name);
      for (const tool of tools) {
        const r = best.get(tool.name);
        results.push({
          events,
          'log MB': Math.round(megabytes),
          tool: tool.name,
          rows: r.rows,
          seconds: +r.seconds.toFixed(2),
          'x DuckDB': +(r.seconds / duck.seconds).toFixed(2),
          'events/s': Math.round(events / r.seconds),
          'peak RSS MB': r.rssMB,
          note: tool.duckdb ? `DuckDB ${r.detail.version}, ${r.detail.threads} threads` : r.returned !== undefined ? `${r.returned} devices came back after being forgotten` : '',
        });
      }
      rmSync(log, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`The whole job (read NDJSON, sessionize, write NDJSON), best of ${runs}, Node ${process.version}, seeded workload (4% retried batches, 2% sent hours late)`);
  console.table(results);
}

const main = process.argv[1] === fileURLToPath(import.meta.url);
const parts = (process.env.PARTS ?? 'job,library').split(',');
if (main && process.argv[2] === 'measure') await measure(process.argv[3], Number(process.argv[4]));
else if (main && parts.includes('job')) wholeJob((process.env.JOB_SIZES ?? '200000,1000000').split(',').map(Number));
if (main && process.argv[2] !== 'measure' && parts.includes('library')) {
  const sizes = (process.env.SIZES ?? '100000,1000000').split(',').map(Number);
  const results = [];
  for (const size of sizes)
    for (const mode of ['floor', 'batch', 'incremental']) {
      const out = execFileSync(process.execPath, ['--max-old-space-size=8192', fileURLToPath(import.meta.url), 'measure', mode, String(size)], { encoding: 'utf8' });
      results.push(JSON.parse(out));
    }
  console.log(`sessionbeacon sessionizer, Node ${process.version}, seeded workload (4% retried batches, 2% sent hours late)`);
  console.table(
    results.map((r) => ({
      events: r.events,
      mode: r.mode,
      devices: r.devices,
      rows: r.mode === 'floor' ? '-' : r.rows,
      seconds: +r.seconds.toFixed(2),
      'events/s': r.eventsPerSecond,
      'peak RSS MB (workload alone)': `${r.maxRssMB} (${r.workloadRssMB})`,
    })),
  );
}

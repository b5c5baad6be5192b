// Collector load: accepted events/s and request latency (p50, p99) of the built
// `sessionbeacon serve` on loopback, with the embedded PGlite and with a
// PostgreSQL server, under realistic SDK batches. Bounded in time.
//   npm run bench:collector [-- --duration 10 --connections 16 --only pglite|postgres --url URL --devices N]
//   npm run bench:collector -- --fleet [--processes 1,2,4] [--devices 2000]
//   npm run bench:collector -- --memory [--devices 200000 --duration 60]
//   --poison 0.01,0.05: also runs with that share of requests carrying the values of
//   bench/poison.mjs (issue 13: each was a 500, retried by every SDK), after a clean run,
//   and prints each against the clean one.
// A benchmark, not a test: it prints figures and never fails. Afterwards it
// checks that every event the collector acknowledged is in atomic.events once.
// --fleet: 1, 2 and 4 `serve` processes on one PostgreSQL, each request to any
// of them (one load generator per process, the connections split between them:
// a device's requests land on random processes); then the session rows are
// checked equal to a batch run over atomic.events. --memory: one process on
// PostgreSQL, every device new, with the default cache cap and without one: the
// peak RSS of the process.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { hashToken, openPGlite, openPostgres, sessionizeDevice } from 'sessionbeacon-server';
import { postgresAvailable, startPostgres, startServe } from '../test/support/processes.mjs';
import { GEO_HEADERS, isPoisoned, poison } from './poison.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    only: { type: 'string' }, // pglite | postgres
    url: { type: 'string' }, // an already running collector (project 1 open to any origin, limits out of the way)
    poison: { type: 'string' }, // shares of poisoned requests, e.g. 0.01,0.05
    devices: { type: 'string' },
    fleet: { type: 'boolean' },
    processes: { type: 'string', default: '1,2,4' },
    memory: { type: 'boolean' },
  },
});
const POISON_RATES = opts.poison ? opts.poison.split(',').map(Number) : [];
const DURATION = Number(opts.duration);
const CONNECTIONS = Number(opts.connections);
/** Distinct devices the requests cycle through: with fewer, each device comes back more often (the fleet mode's default, 2 000: about 7 requests per device in 10 s). */
const DEVICES = Number(opts.devices ?? (opts.fleet ? 2000 : opts.memory ? 1e9 : 20_000));
/** Makes this run's IDs its own: a second run against the same --url sends new devices and events, not duplicates. */
let RUN = Date.now().toString(36).slice(-5);

/**
 * The n-th request body: what the SDK sends. A device's tab reports in batches of
 * 1 to 8 events (a page view, tracks, pings, a page leave; about 4.5 on average,
 * about 1.9 KB per body), each device's events in time order, every event id unique.
 */
function body(n, now, rate = 0) {
  return request(n, now, rate).body;
}

/** Request `n`: its body and headers, poisoned when `rate` says so (bench/poison.mjs). */
function request(n, now, rate = 0) {
  const batch = cleanBatch(n, now);
  if (!isPoisoned(n, rate)) return { body: JSON.stringify(batch), headers: HEADERS };
  const poisoned = poison(n, batch, HEADERS);
  return { body: JSON.stringify(poisoned.batch), headers: poisoned.headers };
}

const HEADERS = { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://shop.example', 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' };

function cleanBatch(n, now) {
  const device = n % DEVICES;
  const round = Math.floor(n / DEVICES);
  const id = (kind) => `${kind}${RUN}.${device.toString(36)}`.padEnd(21, '_');
  const ids = { deviceId: id('d'), anonymousId: id('a'), visitId: id('v'), sessionId: id('s'), tabId: id('t'), pageId: `${id('p').slice(0, 15)}${round.toString(36).padStart(6, '0')}` };
  const size = 1 + (n % 8);
  const events = [];
  for (let k = 0; k < size; k++) {
    const base = { ...ids, id: `${RUN}.${n.toString(36)}.${k}`.padEnd(21, '_'), ts: now - (size - k) * 50, seq: round * 8 + k };
    if (k === 0)
      events.push({ ...base, type: 'page_view', url: `https://shop.example/products/${round % 50}?utm_source=newsletter&utm_campaign=winter`, title: 'Winter boots, all sizes - Shop', referrer: 'https://www.example-search.com/', navigationType: 'navigate', screenWidth: 1440, screenHeight: 900, maxTouchPoints: 0, language: 'en-GB', timezoneIANA: 'Europe/London', timezoneOffset: 0, userAgentData: { brands: [{ brand: 'Chromium', version: '131' }], mobile: false, platform: 'macOS' } });
    else if (k === size - 1 && size > 2) events.push({ ...base, type: 'page_leave', activeTime: 12_000 + k * 100, userActions: k, domInteractive: 310, domContentLoaded: 420, load: 980 });
    else if (k % 3 === 0) events.push({ ...base, type: 'page_ping', activeTime: 5000 + k * 100, userActions: k });
    else events.push({ ...base, type: 'track', name: 'add_to_cart', properties: { sku: `SKU-${k}`, price: 59.9, currency: 'GBP' } });
  }
  return { v: 1, projectId: 1, sentAt: now, sdk: '0.1.0', events };
}

/** The body numbers handed out so far: shared by the load generators of one run (fleet mode). */
let next = 0;

/** Sends for DURATION seconds; returns autocannon's result and the numbers of the acknowledged requests. */
async function load(url, { rate = 0, connections = CONNECTIONS } = {}) {
  let n = 0;
  let accepted = 0;
  let bytes = 0;
  const acked = [];
  const result = await autocannon({
    url: `${url}/collect`,
    connections,
    duration: DURATION,
    requests: [
      {
        method: 'POST',
        headers: HEADERS,
        // One request at a time per connection: the context holds the one in flight.
        setupRequest(request, context) {
          context.n = next++;
          n++;
          const r = requestOf(context.n, Date.now(), rate);
          bytes += r.body.length;
          return { ...request, body: r.body, headers: r.headers };
        },
        onResponse(status, responseBody, context) {
          if (status !== 200) return;
          accepted += JSON.parse(responseBody).accepted;
          acked.push(context.n);
        },
      },
    ],
  });
  return { result, accepted, acked, sent: n, bytes, rate };
}
const requestOf = request;

const figures = (name, { result, accepted, sent, bytes, rate }) => ({
  name: rate ? `${name}, ${rate * 100} % poisoned` : name,
  'events/s': Math.round(accepted / result.duration),
  'requests/s': Math.round(result.requests.average),
  'p50 ms': result.latency.p50,
  'p99 ms': result.latency.p99,
  'max ms': result.latency.max,
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts,
  'avg body B': Math.round(bytes / Math.max(sent, 1)),
});

async function run(name, serveArgs, open, rate = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-load-'));
  const config = join(dir, 'config.json');
  // Limits set out of the way: this measures the collector, not its rate limiter. A proxy is trusted
  // to set the geo headers, as one in front of a collector would (the poisoned ones reach the columns).
  writeFileSync(config, JSON.stringify({ projects: [{ id: 1, origins: ['*'], readTokens: [hashToken('bench')], eventsPerMinute: 1e9 }], requestsPerMinutePerIp: 1e9, geoHeaders: GEO_HEADERS, maxConnections: 10_000 }));
  const server = await startServe(['--config', config, '--quiet', ...serveArgs(dir)]);
  RUN = Date.now().toString(36).slice(-5); // this run's own IDs
  const measured = await load(server.url, { rate });
  await server.stop();
  // Every acknowledged event must be stored (requests cut off by the end of the run may be too, unacknowledged).
  const db = await open(dir);
  const ids = new Set((await db.query('SELECT "eventId" FROM atomic.events')).rows.map((r) => r.eventId));
  const sessions = Number((await db.query('SELECT count(*)::int AS n FROM atomic.session')).rows[0].n);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  const missing = measured.acked.flatMap((n) => JSON.parse(body(n, 0, rate)).events.map((e) => e.id)).filter((id) => !ids.has(id)).length;
  return {
    ...figures(name, measured),
    'events stored': ids.size,
    'acked, missing': missing,
    'session rows': sessions,
  };
}

async function postgres(rate) {
  if (!postgresAvailable()) return console.warn("PostgreSQL not found: install Debian's postgresql, or set SESSIONBEACON_PG_URL");
  // fsync on: a 2xx means committed to disk, as in production.
  const pg = startPostgres({ durable: true });
  try {
    const database = `sb_load_${process.pid}`;
    const admin = await openPostgres(pg.url('postgres'));
    await admin.exec(`CREATE DATABASE ${database}`);
    await admin.close();
    return await run('PostgreSQL (loopback)', () => ['--database', pg.url(database)], () => openPostgres(pg.url(database)), rate);
  } finally {
    pg.stop();
  }
}

/** A PostgreSQL cluster of this run's own (fsync on: a 2xx means on disk), with a new database per call of `database()`. */
async function withPostgres(work) {
  if (!postgresAvailable()) return console.warn("PostgreSQL not found: install Debian's postgresql, or set SESSIONBEACON_PG_URL");
  const pg = startPostgres({ durable: true });
  let made = 0;
  const database = async () => {
    const name = `sb_load_${process.pid}_${++made}`;
    const admin = await openPostgres(pg.url('postgres'));
    await admin.exec(`CREATE DATABASE ${name}`);
    // Time per write function (pg_stat_user_functions), for the fleet's profile.
    await admin.exec(`ALTER DATABASE ${name} SET track_functions = 'pl'`);
    await admin.close();
    return pg.url(name);
  };
  try {
    return await work(database);
  } finally {
    pg.stop();
  }
}

/** The config of a benchmark run: limits out of the way (this measures the collector, not its rate limiter). */
function benchConfig(dir, extra = {}) {
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ projects: [{ id: 1, origins: ['*'], readTokens: [hashToken('bench')], eventsPerMinute: 1e9 }], requestsPerMinutePerIp: 1e9, ...extra }));
  return config;
}

/** A process's resident memory, MB, from /proc (Linux). */
const rssOf = (pid) => {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);
  } catch {
    return NaN;
  }
};

/** CPU seconds a process used so far (user + system), from /proc (Linux; clock ticks of 10 ms). */
const cpuOf = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
};

/** Where the time went: PostgreSQL backends' CPU, and ms per call of each write function. */
async function profile(url) {
  await new Promise((r) => setTimeout(r, 1500)); // backends report their statistics within a second of going idle
  const db = await openPostgres(url);
  try {
    const backends = (await db.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows;
    const functions = (await db.query(`SELECT funcname AS name, calls, total_time AS total FROM pg_stat_user_functions`)).rows;
    const tables = (await db.query(`SELECT relname AS name, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del FROM pg_stat_user_tables WHERE schemaname = 'atomic'`)).rows;
    const perCall = Object.fromEntries(functions.map((f) => [f.name, `${(f.total / Math.max(Number(f.calls), 1)).toFixed(1)} ms × ${f.calls}`]));
    return { postgresCpu: backends.reduce((t, b) => t + cpuOf(b.pid), 0), perCall, tables };
  } finally {
    await db.close();
  }
}

/** The columns compared with a batch run in the fleet check (the tests compare every column). */
const CHECKED = ['projectId', 'sessionId', 'sessionStart', 'sessionEnd', 'deviceId', 'anonymousId', 'identityId', 'visitId', 'tabId', 'pageId', 'duration', 'activeTime', 'pageViewsCount', 'userActionsCount', 'initURLPath', 'exitURLPath', 'utmSource', 'clockSkew'];
const checkedKey = (r) => JSON.stringify(CHECKED.map((c) => (r[c] instanceof Date ? r[c].toISOString() : (r[c] ?? null))));

/** Whether atomic.session equals a batch sessionization of atomic.events (the engine's options: IPs are stored truncated already). */
async function rowsEqualBatch(db) {
  const { rows: stored } = await db.query('SELECT "projectId", "event", "request" FROM atomic.events');
  const devices = new Map();
  for (const { projectId, event, request } of stored) {
    const e = { projectId, event, request, time: request.receivedAt - (request.sentAt - event.ts) };
    const k = `${projectId}\u0000${event.deviceId}`;
    devices.get(k)?.push(e) ?? devices.set(k, [e]);
  }
  const expected = [...devices.values()].flatMap((list) => sessionizeDevice(list, { fullIp: true }).rows.map(checkedKey)).sort();
  const actual = (await db.query(`SELECT ${CHECKED.map((c) => `"${c}"`).join(', ')} FROM atomic.session`)).rows.map(checkedKey).sort();
  return { rows: actual.length, equal: actual.length === expected.length && actual.every((k, i) => k === expected[i]) };
}

const profiles = [];
const tableStats = [];

/** --fleet: N processes on one PostgreSQL, the connections split between them. */
async function fleet(counts) {
  return withPostgres(async (database) => {
    const out = [];
    for (const count of counts) {
      const url = await database();
      const dir = mkdtempSync(join(tmpdir(), 'sb-fleet-'));
      const config = benchConfig(dir);
      const members = await Promise.all(Array.from({ length: count }, () => startServe(['--config', config, '--quiet', '--database', url])));
      next = 0;
      const cpuBefore = members.reduce((t, m) => t + cpuOf(m.child.pid), 0);
      const generator = process.cpuUsage();
      const parts = await Promise.all(members.map((m, i) => load(m.url, { connections: Math.floor(CONNECTIONS / count) + (i < CONNECTIONS % count ? 1 : 0) })));
      const collectorCpu = members.reduce((t, m) => t + cpuOf(m.child.pid), 0) - cpuBefore;
      const generatorCpu = Object.values(process.cpuUsage(generator)).reduce((a, b) => a + b, 0) / 1e6;
      const health = await Promise.all(members.map(async (m) => (await fetch(`${m.url}/healthz`)).json()));
      const rss = members.map((m) => rssOf(m.child.pid));
      const where = await profile(url);
      profiles.push({ processes: count, 'collectors CPU s': collectorCpu.toFixed(1), 'PostgreSQL CPU s': where.postgresCpu.toFixed(1), 'load generator CPU s': generatorCpu.toFixed(1), ...where.perCall });
      tableStats.push(...where.tables.map((t) => ({ processes: count, ...t })));
      await Promise.all(members.map((m) => m.stop()));
      const db = await openPostgres(url);
      const ids = new Set((await db.query('SELECT "eventId" FROM atomic.events')).rows.map((r) => r.eventId));
      const check = await rowsEqualBatch(db);
      await db.close();
      rmSync(dir, { recursive: true, force: true });
      const acked = parts.flatMap((p) => p.acked);
      const missing = acked.flatMap((n) => JSON.parse(body(n, 0)).events.map((e) => e.id)).filter((id) => !ids.has(id)).length;
      // One autocannon per process: the latencies are pooled from their histograms' percentiles, weighted by requests.
      const total = parts.reduce((t, p) => t + p.result.requests.total, 0);
      const weighted = (q) => Math.round(parts.reduce((t, p) => t + p.result.latency[q] * p.result.requests.total, 0) / Math.max(total, 1));
      const devices = health.reduce((t, h) => ({ current: t.current + h.devices.current, caughtUp: t.caughtUp + h.devices.caughtUp, loaded: t.loaded + h.devices.loaded }), { current: 0, caughtUp: 0, loaded: 0 });
      out.push({
        processes: count,
        'events/s': Math.round(parts.reduce((t, p) => t + p.accepted, 0) / DURATION),
        'requests/s': Math.round(total / DURATION),
        'p50 ms': weighted('p50'),
        'p99 ms': weighted('p99'),
        'max ms': Math.max(...parts.map((p) => p.result.latency.max)),
        non2xx: parts.reduce((t, p) => t + p.result.non2xx, 0),
        'acked, missing': missing,
        'session rows': check.rows,
        'rows == batch': check.equal,
        'memory current/caught up/read': `${devices.current}/${devices.caughtUp}/${devices.loaded}`,
        'RSS MB': rss.join('/'),
      });
    }
    return out;
  });
}

/** --memory: every device new; the peak RSS of one process with the default cap and with none. */
async function memory() {
  return withPostgres(async (database) => {
    const out = [];
    for (const [name, extra] of [['default cap (32 MB)', {}], ['no cap', { cacheMegabytes: 1e6 }]]) {
      const url = await database();
      const dir = mkdtempSync(join(tmpdir(), 'sb-memory-'));
      const server = await startServe(['--config', benchConfig(dir, extra), '--quiet', '--database', url]);
      next = 0;
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, rssOf(server.child.pid))), 250);
      const measured = await load(server.url);
      clearInterval(sampler);
      const health = await (await fetch(`${server.url}/healthz`)).json();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      out.push({ name, devices: measured.acked.length, 'events/s': Math.round(measured.accepted / measured.result.duration), 'peak RSS MB': peak, 'devices held': health.openDevices, 'held MB (estimate)': Math.round(health.heldBytes / 2 ** 20), forgotten: health.evicted });
    }
    return out;
  });
}

const rows = [];
/** Each poisoned run against the clean run before it: throughput and p99 (issue 13 asks for both within 10 %). */
const against = [];
const rates = [0, ...POISON_RATES.filter((r) => r > 0)];
const compare = (list) => {
  const [clean, ...poisoned] = list;
  for (const p of poisoned)
    against.push({ name: p.name, 'events/s vs clean': `${(((p['events/s'] - clean['events/s']) / clean['events/s']) * 100).toFixed(1)} %`, 'p99 vs clean': `${(((p['p99 ms'] - clean['p99 ms']) / clean['p99 ms']) * 100).toFixed(1)} %`, non2xx: p.non2xx });
};
if (opts.fleet) rows.push(...((await fleet(opts.processes.split(',').map(Number))) ?? []));
else if (opts.memory) rows.push(...((await memory()) ?? []));
else if (opts.url) {
  const list = [];
  for (const rate of rates) {
    RUN = Date.now().toString(36).slice(-5); // a second run against the same collector sends new devices and events
    list.push(figures(opts.url, await load(opts.url, { rate })));
  }
  rows.push(...list);
  compare(list);
} else {
  if (opts.only !== 'postgres') {
    const list = [];
    for (const rate of rates) list.push(await run('PGlite (embedded)', (dir) => ['--data', join(dir, 'db')], (dir) => openPGlite(join(dir, 'db')), rate));
    rows.push(...list);
    compare(list);
  }
  if (opts.only !== 'pglite') {
    const list = [];
    for (const rate of rates) list.push(await postgres(rate));
    rows.push(...list.filter(Boolean));
    if (list.every(Boolean)) compare(list);
  }
}
console.log(`collector load${opts.fleet ? ' (fleet, PostgreSQL)' : opts.memory ? ' (memory, PostgreSQL)' : ''}: ${CONNECTIONS} connections, ${DURATION} s each, batches of 1-8 events, ${DEVICES < 1e9 ? `${DEVICES} devices` : 'every request a new device'}; ${cpus().length} × ${cpus()[0].model}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}`);
console.table(rows.filter(Boolean));
if (against.length > 1 || POISON_RATES.length) console.table(against);
if (profiles.length) {
  console.log(`where the time went (CPU seconds over the ${DURATION} s run, ${cpus().length} cores shared with the load generator; ms per call of each write function):`);
  console.table(profiles);
  console.table(tableStats);
}
for (const r of rows) if (r?.['acked, missing']) console.log(`${r.name ?? `${r.processes} processes`}: ${r['acked, missing']} acknowledged events are not stored!`);
for (const r of rows) if (r?.['rows == batch'] === false) console.log(`${r.processes} processes: atomic.session differs from a batch run!`);

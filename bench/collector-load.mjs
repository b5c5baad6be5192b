// Collector load: accepted events/s and request latency (p50, p99) of the built
// `sessionbeacon serve` on loopback, with the embedded PGlite and with a
// PostgreSQL server, under realistic SDK batches. Bounded in time.
//   npm run bench:collector [-- --duration 10 --connections 16 --only pglite|postgres --url URL]
//   --poison 0.01,0.05: also runs with that share of requests carrying the values of
//   bench/poison.mjs (issue 13: each was a 500, retried by every SDK), after a clean run,
//   and prints each against the clean one.
// A benchmark, not a test: it prints figures and never fails. Afterwards it
// checks that every event the collector acknowledged is in atomic.events once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { hashToken, openPGlite, openPostgres } from 'sessionbeacon-server';
import { postgresAvailable, startPostgres, startServe } from '../test/support/processes.mjs';
import { GEO_HEADERS, isPoisoned, poison } from './poison.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    only: { type: 'string' }, // pglite | postgres
    url: { type: 'string' }, // an already running collector (project 1 open to any origin, limits out of the way)
    poison: { type: 'string' }, // shares of poisoned requests, e.g. 0.01,0.05
  },
});
const POISON_RATES = opts.poison ? opts.poison.split(',').map(Number) : [];
const DURATION = Number(opts.duration);
const CONNECTIONS = Number(opts.connections);
const DEVICES = 20_000;
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

/** Sends for DURATION seconds; returns autocannon's result and the numbers of the acknowledged requests. */
async function load(url, rate = 0) {
  RUN = Date.now().toString(36).slice(-5);
  let n = 0;
  let accepted = 0;
  let bytes = 0;
  const acked = [];
  const result = await autocannon({
    url: `${url}/collect`,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [
      {
        method: 'POST',
        headers: HEADERS,
        // One request at a time per connection: the context holds the one in flight.
        setupRequest(request, context) {
          context.n = n++;
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
  const measured = await load(server.url, rate);
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

const rows = [];
/** Each poisoned run against the clean run before it: throughput and p99 (issue 13 asks for both within 10 %). */
const against = [];
const rates = [0, ...POISON_RATES.filter((r) => r > 0)];
const compare = (list) => {
  const [clean, ...poisoned] = list;
  for (const p of poisoned)
    against.push({ name: p.name, 'events/s vs clean': `${(((p['events/s'] - clean['events/s']) / clean['events/s']) * 100).toFixed(1)} %`, 'p99 vs clean': `${(((p['p99 ms'] - clean['p99 ms']) / clean['p99 ms']) * 100).toFixed(1)} %`, non2xx: p.non2xx });
};
if (opts.url) {
  const list = [];
  for (const rate of rates) list.push(figures(opts.url, await load(opts.url, rate)));
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
console.log(`collector load: ${CONNECTIONS} connections, ${DURATION} s each, batches of 1-8 events; ${cpus().length} × ${cpus()[0].model}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}`);
console.table(rows.filter(Boolean));
if (against.length > 1 || POISON_RATES.length) console.table(against);
for (const r of rows) if (r?.['acked, missing']) console.log(`${r.name}: ${r['acked, missing']} acknowledged events are not stored!`);

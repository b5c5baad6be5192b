// Collector load: accepted events/s and request latency (p50, p99) of the built
// `sessionbeacon serve` on loopback, with the embedded PGlite and with a
// PostgreSQL server, under realistic SDK batches. Bounded in time.
//   npm run bench:collector [-- --duration 10 --connections 16 --only pglite|postgres --url URL]
// A benchmark, not a test: it prints figures and never fails. Afterwards it
// checks that every event the collector acknowledged is in atomic.events once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { hashToken, openPGlite, openPostgres } from 'sessionbeacon-server';
import { postgresAvailable, startPostgres, startServe } from '../test/support/processes.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    only: { type: 'string' }, // pglite | postgres
    url: { type: 'string' }, // an already running collector (project 1 open to any origin, limits out of the way)
  },
});
const DURATION = Number(opts.duration);
const CONNECTIONS = Number(opts.connections);
const DEVICES = 20_000;
/** Makes this run's IDs its own: a second run against the same --url sends new devices and events, not duplicates. */
const RUN = Date.now().toString(36).slice(-5);

/**
 * The n-th request body: what the SDK sends. A device's tab reports in batches of
 * 1 to 8 events (a page view, tracks, pings, a page leave; about 4.5 on average,
 * about 1.9 KB per body), each device's events in time order, every event id unique.
 */
function body(n, now) {
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
  return JSON.stringify({ v: 1, projectId: 1, sentAt: now, sdk: '0.1.0', events });
}

/** Sends for DURATION seconds; returns autocannon's result and the numbers of the acknowledged requests. */
async function load(url) {
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
        headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://shop.example', 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
        // One request at a time per connection: the context holds the one in flight.
        setupRequest(request, context) {
          context.n = n++;
          const b = body(context.n, Date.now());
          bytes += b.length;
          return { ...request, body: b };
        },
        onResponse(status, responseBody, context) {
          if (status !== 200) return;
          accepted += JSON.parse(responseBody).accepted;
          acked.push(context.n);
        },
      },
    ],
  });
  return { result, accepted, acked, sent: n, bytes };
}

const figures = (name, { result, accepted, sent, bytes }) => ({
  name,
  'events/s': Math.round(accepted / result.duration),
  'requests/s': Math.round(result.requests.average),
  'p50 ms': result.latency.p50,
  'p99 ms': result.latency.p99,
  'max ms': result.latency.max,
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts,
  'avg body B': Math.round(bytes / Math.max(sent, 1)),
});

async function run(name, serveArgs, open) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-load-'));
  const config = join(dir, 'config.json');
  // Limits set out of the way: this measures the collector, not its rate limiter.
  writeFileSync(config, JSON.stringify({ projects: [{ id: 1, origins: ['*'], readTokens: [hashToken('bench')], eventsPerMinute: 1e9 }], requestsPerMinutePerIp: 1e9}));
  const server = await startServe(['--config', config, '--quiet', ...serveArgs(dir)]);
  const measured = await load(server.url);
  await server.stop();
  // Every acknowledged event must be stored (requests cut off by the end of the run may be too, unacknowledged).
  const db = await open(dir);
  const ids = new Set((await db.query('SELECT "eventId" FROM atomic.events')).rows.map((r) => r.eventId));
  const sessions = Number((await db.query('SELECT count(*)::int AS n FROM atomic.session')).rows[0].n);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  const missing = measured.acked.flatMap((n) => JSON.parse(body(n, 0)).events.map((e) => e.id)).filter((id) => !ids.has(id)).length;
  return {
    ...figures(name, measured),
    'events stored': ids.size,
    'acked, missing': missing,
    'session rows': sessions,
  };
}

async function postgres() {
  if (!postgresAvailable()) return console.warn("PostgreSQL not found: install Debian's postgresql, or set SESSIONBEACON_PG_URL");
  // fsync on: a 2xx means committed to disk, as in production.
  const pg = startPostgres({ durable: true });
  try {
    const database = `sb_load_${process.pid}`;
    const admin = await openPostgres(pg.url('postgres'));
    await admin.exec(`CREATE DATABASE ${database}`);
    await admin.close();
    return await run('PostgreSQL (loopback)', () => ['--database', pg.url(database)], () => openPostgres(pg.url(database)));
  } finally {
    pg.stop();
  }
}

const rows = [];
if (opts.url) rows.push(figures(opts.url, await load(opts.url)));
else {
  if (opts.only !== 'postgres') rows.push(await run('PGlite (embedded)', (dir) => ['--data', join(dir, 'db')], (dir) => openPGlite(join(dir, 'db'))));
  if (opts.only !== 'pglite') rows.push(await postgres());
}
console.log(`collector load: ${CONNECTIONS} connections, ${DURATION} s each, batches of 1-8 events; ${cpus().length} × ${cpus()[0].model}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}`);
console.table(rows.filter(Boolean));
for (const r of rows) if (r?.['acked, missing']) console.log(`${r.name}: ${r['acked, missing']} acknowledged events are not stored!`);

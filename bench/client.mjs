// The client's weight next to its peers, measured in one interleaved run in a real
// Chromium with 4x CPU throttling (DevTools' "4x slowdown"): first-load JS, the
// main-thread time of starting, and the bytes one page view and a burst of 20 track()
// calls put on the wire. A benchmark, not a test: nothing here passes or fails.
//   npm run bench:client      (builds first; RUNS=n for more repetitions)
// The peers are built by bench/peers.mjs (Plausible's npm build, Umami's tracker
// source), with the versions pinned in bench/package.json.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { chromium } from '@playwright/test';
import { buildPeers } from './peers.mjs';

const RUNS = Number(process.env.RUNS ?? 5);
const SETTLE = 3000; // ms after load for the page view (and sessionbeacon's 1 s batch and load timing) to leave
const executablePath = process.env.SESSIONBEACON_CHROMIUM || '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const peers = await buildPeers();

/** Each tracker as a page embeds it, and how a page tracks one event with it. */
const TRACKERS = {
  sessionbeacon: {
    code: readFileSync(new URL('../dist/sessionbeacon.min.js', import.meta.url), 'utf8'),
    attrs: 'data-endpoint="/collect"', // every other option at its default
    track: (k) => window.sessionbeacon('track', 'add_to_cart', { sku: 'SKU-' + k, price: 19.99 }),
  },
  Plausible: {
    code: peers.plausible,
    attrs: '',
    track: (k) => window.plausible('add_to_cart', { props: { sku: 'SKU-' + k, price: '19.99' } }),
  },
  Umami: {
    code: peers.umami,
    attrs: 'data-website-id="3f2a3c1e-6c55-4b8e-9d55-000000000001"',
    track: (k) => window.umami.track('add_to_cart', { sku: 'SKU-' + k, price: 19.99 }),
  },
  '(empty page)': { code: '', attrs: '', track: () => {} },
};

// The page: the tracker inline between two marks, so its compile + run is measured alone.
const page = (name) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title><script>performance.mark('before')</script>` +
  `<script ${TRACKERS[name].attrs}>${TRACKERS[name].code}</script><script>performance.mark('after')</script></head><body><h1>bench</h1></body></html>`;

// One origin for every tracker: each POST is recorded with its body's bytes, and answered as its collector would.
let posts = [];
const server = createServer((req, res) => {
  if (req.method === 'POST') {
    let bytes = 0;
    const chunks = [];
    // What the request line and headers weigh, as sent (HTTP/1.1): the same few hundred bytes for every tracker.
    const head = Buffer.byteLength(`${req.method} ${req.url} HTTP/1.1\r\n${req.rawHeaders.map((v, i) => (i % 2 ? `${v}\r\n` : `${v}: `)).join('')}\r\n`);
    req.on('data', (chunk) => ((bytes += chunk.length), chunks.push(chunk)));
    req.on('end', () => {
      posts.push({ path: req.url, bytes, head, body: process.env.DEBUG ? Buffer.concat(chunks).toString() : '' });
      res.writeHead(req.url === '/api/send' ? 200 : 202, { 'content-type': 'text/plain' }).end(req.url === '/api/send' ? 'cache-token' : 'ok');
    });
    return;
  }
  const name = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(1));
  if (!TRACKERS[name]) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page(name));
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${server.address().port}`;
TRACKERS.Umami.attrs += ` data-host-url="${origin}"`;

const browser = await chromium.launch({ executablePath, args });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const metric = async (cdp, name) => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === name).value * 1000;

async function measure(name) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  const cdp = await context.newCDPSession(tab);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  await cdp.send('Performance.enable');
  posts = [];
  await tab.goto(`${origin}/${encodeURIComponent(name)}`);
  await sleep(SETTLE);
  const startScript = await metric(cdp, 'ScriptDuration');
  const startTask = await metric(cdp, 'TaskDuration');
  const sync = await tab.evaluate(() => performance.measure('tracker', 'before', 'after').duration);
  const view = posts;
  posts = [];
  const burstMs = await tab.evaluate((fn) => {
    const track = (0, eval)(fn);
    const t0 = performance.now();
    for (let k = 0; k < 20; k++) track(k);
    return performance.now() - t0;
  }, `(${TRACKERS[name].track})`);
  await sleep(2500);
  const burst = posts;
  posts = []; // closing the context sends a page_leave: not the burst's
  if (process.env.DEBUG) console.log(name, JSON.stringify({ view, burst }));
  await context.close();
  return {
    sync,
    startScript,
    startTask,
    viewRequests: view.length,
    viewBytes: view.reduce((n, p) => n + p.bytes, 0),
    viewWire: view.reduce((n, p) => n + p.bytes + p.head, 0),
    burstMs,
    burstRequests: burst.length,
    burstBytes: burst.reduce((n, p) => n + p.bytes, 0),
    burstWire: burst.reduce((n, p) => n + p.bytes + p.head, 0),
  };
}

// Interleaved: every run measures every tracker, in an order that rotates, so load on the machine falls on all alike.
const names = Object.keys(TRACKERS);
const results = Object.fromEntries(names.map((n) => [n, []]));
for (let run = 0; run < RUNS; run++)
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + run) % names.length];
    results[name].push(await measure(name));
  }
await browser.close();
server.close();

const version = execFileSync(executablePath, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
const pick = (name, key) => median(results[name].map((r) => r[key]));
const empty = (key) => pick('(empty page)', key);
const row = (name) => {
  const code = Buffer.from(TRACKERS[name].code);
  return {
    'JS gzip B': gzipSync(code, { level: 9 }).length,
    'JS brotli B': brotliCompressSync(code).length,
    'start: run ms': +pick(name, 'sync').toFixed(1),
    'start: script ms, first 3 s': +(pick(name, 'startScript') - empty('startScript')).toFixed(1),
    'start: tasks ms, first 3 s': +(pick(name, 'startTask') - empty('startTask')).toFixed(1),
    'page view: requests': pick(name, 'viewRequests'),
    'page view: body B': pick(name, 'viewBytes'),
    'page view: with headers B': pick(name, 'viewWire'),
    '20 track(): requests': pick(name, 'burstRequests'),
    '20 track(): body B': pick(name, 'burstBytes'),
    '20 track(): with headers B': pick(name, 'burstWire'),
    '20 track(): ms': +pick(name, 'burstMs').toFixed(1),
  };
};
console.log(`${version}, 4x CPU throttling, fresh context per run, medians of ${RUNS} interleaved runs (${Object.entries(peers.versions).map(([n, v]) => `${n} ${v}`).join(', ')})`);
console.log('start: run = compile + run of the inline script; script/tasks = DevTools ScriptDuration/TaskDuration in the first 3 s, minus an empty page\'s; body = request bodies, with headers = request line + headers + body');
console.table(Object.fromEntries(names.filter((n) => TRACKERS[n].code).map((n) => [n, row(n)])));

// Client figures in a real Chromium with 4x CPU throttling (DevTools' "4x slowdown"):
// requests and bytes for one page view and for a 20-event burst, and main-thread
// milliseconds of the script's start-up and of 20 track() calls. Prints a table;
// a benchmark, not a test: nothing here passes or fails.
//   npm run bench:client      (after npm run build)
import { readFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { startBeaconServer } from '../e2e/support/beacon-server.mjs';

const RUNS = Number(process.env.RUNS ?? 15);
const executablePath = process.env.SESSIONBEACON_CHROMIUM || '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const code = readFileSync(new URL('../dist/sessionbeacon.min.js', import.meta.url), 'utf8');

const server = await startBeaconServer({ mounts: { '/dist/': 'dist', '/': 'bench/pages' } });
const browser = await chromium.launch({ executablePath, args });
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function throttledPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  return { context, page };
}

// 1. Requests and bytes: one page view, then a burst of 20 track() calls, with every default.
const traffic = { pageViewRequests: [], pageViewBytes: [], burstRequests: [], burstBytes: [], perEvent: [] };
for (let i = 0; i < 5; i++) {
  const { context, page } = await throttledPage();
  server.attempts.length = 0;
  await page.goto(server.url('/index.html'));
  await sleep(2500); // flushInterval (1 s) and the load timing, with room
  traffic.pageViewRequests.push(server.attempts.length);
  traffic.pageViewBytes.push(server.attempts.reduce((n, a) => n + Buffer.byteLength(JSON.stringify(a.batch)), 0));
  server.attempts.length = 0;
  await page.evaluate(() => {
    for (let k = 0; k < 20; k++) window.sessionbeacon('track', 'add_to_cart', { sku: 'SKU-' + k, price: 19.99 });
  });
  await sleep(2500);
  const events = server.attempts.flatMap((a) => a.batch.events).filter((e) => e.type === 'track');
  const bytes = server.attempts.reduce((n, a) => n + Buffer.byteLength(JSON.stringify(a.batch)), 0);
  traffic.burstRequests.push(server.attempts.length);
  traffic.burstBytes.push(bytes);
  traffic.perEvent.push(Math.round(bytes / Math.max(1, events.length)));
  await context.close();
}

// 2. Main-thread time: the script's start-up (compile + run, as a script tag does) and 20 track() calls.
const init = [];
const track20 = [];
for (let i = 0; i < RUNS; i++) {
  const { context, page } = await throttledPage();
  await page.goto(server.url('/bare.html'));
  const t = await page.evaluate((source) => {
    const s0 = performance.now();
    (0, eval)(source); // no data-* tag: endpoint defaults to /collect
    const s1 = performance.now();
    for (let k = 0; k < 20; k++) window.sessionbeacon('track', 'add_to_cart', { sku: 'SKU-' + k, price: 19.99 });
    const s2 = performance.now();
    return [s1 - s0, s2 - s1];
  }, code);
  init.push(t[0]);
  track20.push(t[1]);
  await context.close();
}

await browser.close();
await server.close();

const { execFileSync } = await import("node:child_process");
const version = execFileSync(executablePath, ["--version"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
console.log(`sessionbeacon client, ${version}, 4x CPU throttling, median of ${traffic.pageViewRequests.length} (traffic) and ${RUNS} (timing) fresh contexts`);
console.table({
  'one page view': { requests: median(traffic.pageViewRequests), bytes: median(traffic.pageViewBytes) },
  '20-event burst': { requests: median(traffic.burstRequests), bytes: median(traffic.burstBytes), 'bytes/event': median(traffic.perEvent) },
});
console.table({
  'init (compile + run the script)': { 'main-thread ms': +median(init).toFixed(2), max: +Math.max(...init).toFixed(2) },
  '20 track() calls': { 'main-thread ms': +median(track20).toFixed(2), max: +Math.max(...track20).toFixed(2) },
});

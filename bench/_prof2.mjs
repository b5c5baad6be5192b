import { chromium } from '@playwright/test';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
const code = readFileSync(process.argv[2], 'utf8');
const html = `<!doctype html><html><head><meta charset="utf-8"><title>bench</title><script>performance.mark('before')</script><script data-endpoint="/collect">${code}</script><script>performance.mark('after')</script></head><body><h1>bench</h1></body></html>`;
const server = createServer((req, res) => { if (req.method === 'POST') { req.resume(); req.on('end', () => res.writeHead(204).end()); return; } res.writeHead(200, { 'content-type': 'text/html' }).end(html); });
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
const init = () => { try {
  var t = (window.__t = {}); var c = (window.__c = {});
  const wrap = (obj, name, label) => { try { const d = Object.getOwnPropertyDescriptor(obj, name); if (!d) return (t['missing ' + label] = 0);
    const time = (fn) => function (...a) { const s = performance.now(); try { return fn.apply(this, a); } finally { const k = label + (d.get ? (a.length ? '=' : '') : ''); t[k] = (t[k] || 0) + performance.now() - s; c[k] = (c[k] || 0) + 1; } };
    if (d.get || d.set) Object.defineProperty(obj, name, { ...d, get: d.get && time(d.get), set: d.set && time(d.set) }); else Object.defineProperty(obj, name, { ...d, value: time(d.value) }); } catch (e) { t['error ' + label + ' ' + e.message] = 0; } };
  wrap(Document.prototype, 'cookie', 'cookie');
  wrap(window, 'localStorage', 'localStorage getter'); wrap(window, 'sessionStorage', 'sessionStorage getter');
  for (const m of ['getItem', 'setItem', 'removeItem']) wrap(Storage.prototype, m, 'Storage.' + m);
  wrap(IDBFactory.prototype, 'open', 'indexedDB.open'); wrap(IDBDatabase.prototype, 'transaction', 'idb.transaction');
  wrap(LockManager.prototype, 'request', 'locks.request');
  const BC = window.BroadcastChannel; window.BroadcastChannel = function (n) { const s = performance.now(); const r = new BC(n); t.BroadcastChannel = (t.BroadcastChannel || 0) + performance.now() - s; return r; };
  wrap(Intl.DateTimeFormat.prototype, 'resolvedOptions', 'Intl.resolvedOptions');
  const DTF = Intl.DateTimeFormat; Intl.DateTimeFormat = function (...a) { const s = performance.now(); const r = new DTF(...a); t['new Intl.DateTimeFormat'] = (t['new Intl.DateTimeFormat'] || 0) + performance.now() - s; return r; }; Intl.DateTimeFormat.prototype = DTF.prototype;
  wrap(Performance.prototype, 'getEntriesByType', 'getEntriesByType');
  wrap(Document.prototype, 'hasFocus', 'hasFocus');
  wrap(window, 'fetch', 'fetch'); wrap(Crypto.prototype, 'getRandomValues', 'getRandomValues');
  wrap(EventTarget.prototype, 'addEventListener', 'addEventListener');
  wrap(Date.prototype, 'getTimezoneOffset', 'getTimezoneOffset');
  wrap(TextEncoder.prototype, 'encode', 'TextEncoder.encode');
} catch (e) { window.__t = { ['init error ' + e.message]: 0 }; } };
const sum = {}; const syncs = [];
const RUNS = Number(process.env.RUNS ?? 4);
for (let run = 0; run < RUNS; run++) {
  const context = await browser.newContext(); await context.addInitScript(init); const page = await context.newPage();
  const cdp = await context.newCDPSession(page); await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await new Promise((r) => setTimeout(r, 3000));
  syncs.push(await page.evaluate(() => performance.measure('t', 'before', 'after').duration));
  const t = await page.evaluate(() => ({ t: window.__t, c: window.__c, probe: (document.cookie, Object.keys(window.__t).length) }));

  for (const [k, v] of Object.entries(t.t)) sum[k] = (sum[k] || 0) + v / RUNS;
  await context.close();
}
console.log('sync run ms', syncs.map((x) => x.toFixed(1)).join(' '));
console.log(Object.entries(sum).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v.toFixed(1)}ms ${k}`).join('\n'));
await browser.close(); server.close();

// A small local server for the e2e tests: it serves static files
// and keeps every beacon it receives, with the time it received it. Copied in
// spirit from web-vitals' e2e setup. Not the reference collector: a test can make it answer with faults (status, hang, reset).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.css': 'text/css',
};

/** The ID fields a batch may carry once at its top (ID_FIELDS in src/protocol.ts). */
const ID_FIELDS = ['deviceId', 'anonymousId', 'identityId', 'visitId', 'sessionId', 'tabId', 'pageId'];

/** The batch's events with the IDs at its top put back, as the collector's expandEvents does (an event's own value wins). */
const expand = (batch) => {
  const shared = Object.fromEntries(ID_FIELDS.filter((f) => batch[f] !== undefined).map((f) => [f, batch[f]]));
  return Array.isArray(batch.events) ? batch.events.map((e) => ({ ...shared, ...e })) : [];
};

/**
 * Starts the server on 127.0.0.1 (port 0: a free one). `mounts` maps URL prefixes
 * to folders, e.g. { '/dist/': 'dist', '/': 'e2e/pages' }.
 * @returns {Promise<object>} see BeaconServer in e2e/fixtures.ts
 */
export async function startBeaconServer({ mounts, port = 0, host = '127.0.0.1' } = {}) {
  const batches = [];
  const roots = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'Retry-After');
    if (req.method === 'POST' && url.pathname === '/collect') {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = Buffer.concat(chunks).toString('utf8');
      let batch;
      try {
        batch = JSON.parse(body);
      } catch {
        res.writeHead(400).end('malformed JSON');
        return;
      }
      // The fault the test asked for: a status (with headers), 'hang' (never answer) or 'reset' (cut the connection).
      const answer = api.respond({ ...batch, events: expand(batch) });
      api.attempts.push({ at: Date.now(), answer: typeof answer === 'object' ? answer.status : answer, batch: { ...batch, events: expand(batch) } });
      if (answer === 'hang') return;
      if (answer === 'reset') return req.socket.destroy();
      const { status, headers = {}, delay = 0 } = answer;
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      if (status >= 200 && status < 300) {
        // Stored as the collector would: every event whole (what travelled is in `bytes` and `wire`).
        const record = { receivedAt: Date.now(), contentType: req.headers['content-type'], bytes: Buffer.byteLength(body), ...batch, events: expand(batch), wire: batch };
        batches.push(record);
        api.onBatch?.(record);
      }
      res.writeHead(status, headers).end();
      return;
    }
    if (req.method === 'GET' && url.pathname === '/beacons') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(batches));
      return;
    }
    const mount = roots.find(([prefix]) => url.pathname.startsWith(prefix));
    if (!mount) return res.writeHead(404).end();
    const dir = resolve(mount[1]);
    let file = normalize(join(dir, decodeURIComponent(url.pathname.slice(mount[0].length))));
    if (!file.startsWith(dir)) return res.writeHead(403).end();
    if (file.endsWith('/') || file === dir) file = join(file, 'index.html');
    try {
      const data = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' }).end(data);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(port, host, ok));
  const origin = `http://${host}:${server.address().port}`;
  const api = {
    origin,
    url: (path) => origin + path,
    batches,
    events: () => batches.flatMap((b) => b.events),
    clear: () => batches.splice(0),
    /** Every POST /collect, answered or not. */
    attempts: [],
    /** How to answer the next POST /collect: { status, headers, delay } | 'hang' | 'reset'. Stores the batch only for a 2xx. */
    respond: () => ({ status: 204 }),
    // Pages may still hold keep-alive connections when a test ends: cut them, or close() waits.
    close: () => new Promise((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
    onBatch: undefined,
  };
  return api;
}

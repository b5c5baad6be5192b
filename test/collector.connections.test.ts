// @vitest-environment node
// Slow and many clients against the collector on a real socket (its Node http
// server, listening on loopback), against PGlite and PostgreSQL: a body or headers
// dripped a byte at a time are cut off with a 408 within the configured time, an
// idle keep-alive connection is closed, and past the connection cap new
// connections are closed at once while the server keeps answering the others.
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createCollector, parseConfig, type CollectorConfig, type Database } from '../src/server';
import { DEFAULT_LIMITS } from '../src/server/collector/config';
import { backends } from './support/databases';
import { ev } from './sessionizer.helpers';

/** Short limits, so that the test waits seconds, not the defaults' tens of seconds. */
const LIMITS = { requestTimeout: 1500, headersTimeout: 1000, keepAliveTimeout: 600, maxConnections: 6 };
/** Node looks for expired requests once a second (app.ts): a cut-off comes at most this much late, plus scheduling. */
const SLACK = 1000 + 700;
const CONFIG: CollectorConfig = parseConfig({ projects: [{ id: 1, origins: ['*'], readTokens: [] }], ...LIMITS });

const body = () => JSON.stringify({ v: 1, projectId: 1, sentAt: Date.now(), events: [ev(Date.now(), { id: `e${Math.random()}` })] });

interface Outcome {
  /** ms from the connection to its end. */
  after: number;
  /** ms from the first byte of the answer to the end (NaN without an answer). */
  afterAnswer: number;
  /** What the server wrote before closing. */
  answer: string;
}

/** Opens a connection, writes `head`, then drips `drip` a byte every `every` ms until the server closes it. */
function drip(port: number, head: string, drip: string, every = 150): { socket: Socket; done: Promise<Outcome> } {
  const socket = connect(port, '127.0.0.1');
  const started = Date.now();
  let answer = '';
  let answered = NaN;
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    socket.write(head);
    timer = setInterval(() => {
      if (i < drip.length && socket.writable) socket.write(drip[i++]);
    }, every);
  });
  socket.on('data', (chunk) => {
    if (!answer) answered = Date.now();
    answer += chunk;
  });
  socket.on('error', () => {});
  const done = new Promise<Outcome>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ after: Date.now() - started, afterAnswer: Date.now() - answered, answer });
    }),
  );
  return { socket, done };
}

/** One whole request over a new connection that it then closes; resolves with the status line's code. */
async function post(port: number): Promise<number> {
  const payload = body();
  const { done } = drip(port, `POST /collect HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`, '');
  const { answer } = await done;
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0);
}

const slowPost = (port: number) => drip(port, 'POST /collect HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n', 'x'.repeat(100), 100);

for (const backend of backends()) {
  describe(`slow and many clients, on ${backend.name}`, () => {
    let db: Database;
    let app: FastifyInstance;
    let port: number;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      db = await backend.open();
      ({ app } = await createCollector({ db, config: CONFIG }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      port = (app.server.address() as { port: number }).port;
    }, 60_000);
    afterEach(() => {
      for (const s of sockets.splice(0)) s.destroy();
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
      await backend.stop();
    });

    it('the defaults are the documented ones', async () => {
      const { app: plain } = await createCollector({ db, config: parseConfig({ projects: [{ id: 1, origins: ['*'], readTokens: [] }] }) });
      expect({ requestTimeout: plain.server.requestTimeout, headersTimeout: plain.server.headersTimeout, keepAliveTimeout: plain.server.keepAliveTimeout, maxConnections: plain.server.maxConnections }).toEqual({
        requestTimeout: DEFAULT_LIMITS.requestTimeout,
        headersTimeout: DEFAULT_LIMITS.headersTimeout,
        keepAliveTimeout: DEFAULT_LIMITS.keepAliveTimeout,
        maxConnections: DEFAULT_LIMITS.maxConnections,
      });
      expect(DEFAULT_LIMITS).toMatchObject({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000, maxConnections: 1000 });
      await plain.close();
    });

    it('a body dripped a byte at a time is cut off with a 408 (JSON) within requestTimeout', async () => {
      const payload = body();
      const { socket, done } = drip(port, `POST /collect HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n`, payload);
      sockets.push(socket);
      const { after, answer } = await done;
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: expect.stringMatching(/did not arrive in time/) });
      expect(after).toBeGreaterThanOrEqual(LIMITS.requestTimeout - 50);
      expect(after).toBeLessThan(LIMITS.requestTimeout + SLACK);
    });

    it('headers dripped a byte at a time are cut off with a 408 within headersTimeout', async () => {
      const { socket, done } = drip(port, 'POST /collect HTTP/1.1\r\nHost: x\r\n', 'X-Slow: ' + 'a'.repeat(200));
      sockets.push(socket);
      const { after, answer } = await done;
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(after).toBeGreaterThanOrEqual(LIMITS.headersTimeout - 50);
      expect(after).toBeLessThan(LIMITS.headersTimeout + SLACK);
    });

    it('an idle keep-alive connection is closed after keepAliveTimeout', async () => {
      const payload = body();
      const { socket, done } = drip(port, `POST /collect HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`, '');
      sockets.push(socket);
      const { afterAnswer, answer } = await done;
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(afterAnswer).toBeGreaterThanOrEqual(LIMITS.keepAliveTimeout - 50);
      expect(afterAnswer).toBeLessThan(LIMITS.keepAliveTimeout + SLACK);
    });

    it('slow clients under the cap do not hold up others; past the cap a new connection is closed at once; once they are cut off, new ones are served', async () => {
      const slow = Array.from({ length: LIMITS.maxConnections - 1 }, () => slowPost(port));
      sockets.push(...slow.map((s) => s.socket));
      await new Promise((r) => setTimeout(r, 200));
      expect(await post(port)).toBe(200);
      const last = slowPost(port);
      slow.push(last);
      sockets.push(last.socket);
      await new Promise((r) => setTimeout(r, 200));
      const extra = drip(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', '');
      sockets.push(extra.socket);
      const refused = await extra.done;
      expect(refused.answer).toBe('');
      expect(refused.after).toBeLessThan(500);
      const cut = await Promise.all(slow.map((s) => s.done));
      for (const c of cut) expect(c.answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(await post(port)).toBe(200);
    });
  });
}

// @vitest-environment node
// navigator.sendBeacon sends the site's cookies with a beacon to the collector's
// origin, HttpOnly ones too (docs/protocol.md, "Cookies"): the collector must never
// log or store a Cookie header, nor a read token.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollector, hashToken, parseConfig, type Database } from '../src/server';
import { pgliteBackend } from './support/databases';
import { ev, T0, UA } from './sessionizer.helpers';

const SECRET = 'session=s3cr3t-cookie-value';
const TOKEN = 'read-token-never-logged';

describe('the collector and the headers a beacon carries', () => {
  const backend = pgliteBackend();
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await backend.stop();
  });

  it('never logs or stores the Cookie header, nor the Authorization header', async () => {
    let logs = '';
    const stream = new Writable({ write: (chunk, _enc, done) => ((logs += chunk), done()) });
    const config = parseConfig({ projects: [{ id: 7, name: 'shop', origins: ['*'], readTokens: [hashToken(TOKEN)] }] });
    // The logger as `serve` configures it, at its most talkative level.
    const { app } = await createCollector({ db, config, now: () => T0, logger: { level: 'trace', stream } });
    const headers = { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA, cookie: SECRET };
    const ok = await app.inject({ method: 'POST', url: '/collect', headers, payload: JSON.stringify({ v: 1, projectId: 7, sentAt: T0, events: [ev(T0)] }) });
    expect(ok.statusCode).toBe(200);
    const refused = await app.inject({ method: 'POST', url: '/collect', headers, payload: '{"v":1' });
    expect(refused.statusCode).toBe(400);
    const read = await app.inject({ method: 'GET', url: '/sessions?from=0', headers: { authorization: `Bearer ${TOKEN}`, cookie: SECRET } });
    expect(read.statusCode).toBe(200);
    await app.close();

    expect(logs).toContain('/collect'); // the requests were logged...
    expect(logs).not.toContain('s3cr3t'); // ...without their cookies
    expect(logs).not.toContain(TOKEN);
    const stored = await db.query<{ row: string }>(`SELECT row_to_json(e)::text AS row FROM atomic.events e UNION ALL SELECT row_to_json(s)::text FROM atomic.session s`);
    expect(stored.rows.length).toBe(2);
    for (const { row } of stored.rows) expect(row).not.toContain('s3cr3t');
  }, 30_000);
});

// @vitest-environment node
// Fuzz: thousands of generated bodies, valid, mutated and hostile, thrown at the
// collector (fastify's inject, PGlite). It never answers 5xx; what it stores
// is valid and its session rows equal a batch run over the stored events.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createCollector, parseConfig, type Database } from '../src/server';
import { batchProblem } from '../src/server/collector/schema';
import { expectedRows, pgliteBackend, sessionRows, storedEvents } from './support/databases';

const T0 = Date.UTC(2026, 10, 22, 9);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

/** Any UTF-16 code units: lone surrogates, NUL and control characters included. */
const units = (minLength = 0) => fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength, maxLength: 40 }).map((a) => String.fromCharCode(...a));
const hostile = ["'; DROP TABLE atomic.session; --", '\u0000', '\ud800', '%s%n', '${x}', '\\', '"', '\u202e', '🙂'.repeat(30)];
/** Text the schema allows that is built to hurt. */
const text = fc.oneof(fc.string({ maxLength: 20 }), units(), fc.constantFrom(...hostile, '🙂'.repeat(1000), 'x'.repeat(2000)));
const id = fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.string({ minLength: 1, maxLength: 8 }), units(1), fc.constantFrom(...hostile));

/** Events the schema accepts, with hostile strings wherever strings go. */
const event = fc.record({
  id: fc.oneof(fc.uuid(), id),
  type: fc.constantFrom('page_view', 'page_leave', 'page_ping', 'track', 'identify'),
  ts: fc.integer({ min: T0 - 3_600_000, max: T0 + 3_600_000 }),
  seq: fc.nat(1000),
  deviceId: id,
  anonymousId: id,
  visitId: id,
  sessionId: id,
  tabId: id,
  pageId: id,
  identityId: id,
  url: fc.oneof(fc.webUrl({ withQueryParameters: true }), text),
  title: text,
  referrer: fc.option(fc.oneof(fc.webUrl({ withQueryParameters: true }), text), { nil: undefined }),
  navigationType: fc.constantFrom('navigate', 'reload', 'route', 'back_forward_cache'),
  activeTime: fc.nat(600_000),
  userActions: fc.nat(50),
  name: fc.oneof(fc.constantFrom('signup', 'click'), units(1)),
  properties: fc.option(fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }), { nil: undefined }),
  screenWidth: fc.integer({ min: -1e6, max: 1e6 }),
  timezoneOffset: fc.integer({ min: -1440, max: 1440 }),
  language: fc.oneof(fc.constantFrom('en-GB', 'pt-BR', 'zh-Hans-CN'), units()),
}).map((e) => {
  // Client sessionIds are random per device (nanoid): two devices never share one. A forged
  // shared one is tested in collector.test.ts; here each device's sessionIds start with its deviceId.
  const deviceId = e.deviceId.slice(0, 12);
  return { ...e, deviceId, sessionId: `${deviceId}|${e.sessionId}` };
});

const batch = fc.record({
  v: fc.constant(1),
  projectId: fc.constantFrom(1, '1'),
  sentAt: fc.integer({ min: T0 - 60_000, max: T0 + 60_000 }),
  sdk: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
  events: fc.array(event, { minLength: 1, maxLength: 8 }),
});

/** Anything in the wrong place: wrong types, absurd numbers, deep nesting, hostile strings, missing values. */
const wrong = fc.oneof(
  fc.jsonValue({ maxDepth: 30 }),
  fc.constantFrom(null, '', -1, 0, 1e300, 2 ** 53, -(2 ** 31), 'x'.repeat(70), '7', true, [], {}),
  fc.double(),
  units(),
);
// deviceId and sessionId are left alone: a device's sessionIds stay its own (see `event`).
const FIELDS = ['v', 'projectId', 'sentAt', 'sdk', 'dropped', 'events', 'id', 'type', 'ts', 'seq', 'anonymousId', 'visitId', 'tabId', 'pageId', 'identityId', 'url', 'title', 'navigationType', 'activeTime', 'userActions', 'name', 'properties', 'traits', 'screenWidth', 'timezoneOffset', 'userAgentData', 'clickIds'];

/** A valid batch with one field, of the batch or of one event, set to something wrong (or removed). */
const mutated = fc.tuple(batch, fc.constantFrom(...FIELDS), fc.nat(7), fc.option(wrong, { nil: undefined })).map(([b, field, index, value]) => {
  const copy = JSON.parse(JSON.stringify(b));
  const target = ['v', 'projectId', 'sentAt', 'sdk', 'dropped', 'events'].includes(field) ? copy : copy.events[index % copy.events.length];
  if (value === undefined) delete target[field];
  else target[field] = value;
  return copy;
});

/** Whole bodies: valid batches, mutated ones, JSON of any shape, and text that is not JSON. */
const body = fc.oneof(
  { weight: 4, arbitrary: batch.map((b) => JSON.stringify(b)) },
  { weight: 4, arbitrary: mutated.map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 30 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: units() },
  { weight: 1, arbitrary: batch.map((b) => JSON.stringify(b).slice(0, -3)) },
);
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('text/plain;charset=UTF-8', 'application/json', 'text/plain') },
  { weight: 1, arbitrary: fc.constantFrom('application/octet-stream', 'application/json; charset=utf-16', 'multipart/form-data') },
);

describe('collector fuzz', () => {
  let db: Database;
  let app: FastifyInstance;
  const backend = pgliteBackend();

  beforeAll(async () => {
    db = await backend.open();
    ({ app } = await createCollector({ db, config: parseConfig({ projects: [{ id: 1, origins: ['*'], readTokens: [] }], requestsPerMinutePerIp: 1e9 }), now: () => T0 }));
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await db?.close();
    await backend.stop();
  });

  it(`never answers 5xx to ${RUNS} generated bodies, and stores only what is valid`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, contentType, async (payload, type) => {
        const response = await app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': type }, payload });
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        expect(response.statusCode, response.body).toBeLessThan(500);
        if (response.statusCode >= 400) expect(response.json().error).toEqual(expect.any(String));
      }),
      { numRuns: RUNS },
    );
    // Not vacuous: both accepted and refused bodies were seen.
    expect(statuses.get(200)).toBeGreaterThan(RUNS / 20);
    expect(statuses.get(400)).toBeGreaterThan(RUNS / 20);

    const stored = await storedEvents(db);
    expect(stored.length).toBeGreaterThan(0);
    for (const e of stored) expect(batchProblem({ v: 1, projectId: 1, sentAt: e.request.sentAt, events: [e.event] })).toBeUndefined();
    const table = await sessionRows(db);
    const expected = expectedRows(stored);
    const keys = (rows: typeof table) => rows.map((r) => JSON.stringify([r.projectId, r.sessionStart, r.sessionId, r.deviceId]));
    expect(keys(table)).toEqual(keys(expected));
    // Row by row, so that a failure shows the one row that differs.
    for (let i = 0; i < table.length; i++) expect(table[i]).toEqual(expected[i]);
  }, 300_000);
});

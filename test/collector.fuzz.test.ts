// @vitest-environment node
// Fuzz: thousands of generated requests, valid, mutated and hostile, thrown at the
// collector (fastify's inject, PGlite and PostgreSQL): bodies, and the request
// headers it reads (User-Agent, the geo headers of a trusted proxy), and numbers
// that sum past the columns across a session's events. It never answers 5xx; what
// it stores is valid, `sessionize` takes every batch it accepted, and its session
// rows equal a batch run over the stored events.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createCollector, parseConfig, requestProblem, type Database } from '../src/server';
import { batchProblem } from '../src/server/collector/schema';
import { DEFAULT_GEO_HEADERS } from '../src/server/sessionizer/columns';
import { backends, expectedRows, sessionRows, storedEvents } from './support/databases';

const T0 = Date.UTC(2026, 10, 22, 9);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const INT_MAX = 2_147_483_647;

/** Any UTF-16 code units: lone surrogates, NUL and control characters included. */
const units = (minLength = 0) => fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength, maxLength: 40 }).map((a) => String.fromCharCode(...a));
const hostile = ["'; DROP TABLE atomic.session; --", '\u0000', '\ud800', '%s%n', '${x}', '\\', '"', '\u202e', '🙂'.repeat(30)];
/** Text the schema allows that is built to hurt. */
const text = fc.oneof(fc.string({ maxLength: 20 }), units(), fc.constantFrom(...hostile, '🙂'.repeat(1000), 'x'.repeat(2000)));
const id = fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.string({ minLength: 1, maxLength: 8 }), units(1), fc.constantFrom(...hostile));

/** Numbers that overflow a column alone or summed over a session's pages, and the ordinary ones. */
const big = fc.oneof(
  { weight: 3, arbitrary: fc.nat(600_000) },
  { weight: 1, arbitrary: fc.constantFrom(INT_MAX, INT_MAX + 1, 2e9, 2 ** 53, 1e300, -1, -1e300, 0.5, -0) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);
/** A browser version as client hints or a User-Agent give it: real ones, and ones past int32 or not numbers. */
const version = fc.oneof(fc.constantFrom('131', '17.4', '99999999999', '2147483648', '-1', '', 'x', '007'), fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String));

/** Events the schema accepts, with hostile strings wherever strings go and numbers past the columns. */
const event = fc.record({
  id: fc.oneof(fc.uuid(), id),
  type: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('page_view', 'page_leave', 'page_ping', 'track', 'identify') },
    // Types this version does not know, named like what every JavaScript object has too.
    { weight: 1, arbitrary: fc.constantFrom('web_vital', 'constructor', '__proto__', 'toString') },
  ),
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
  activeTime: big,
  userActions: big,
  domInteractive: big,
  load: big,
  name: fc.oneof(fc.constantFrom('signup', 'click'), units(1)),
  properties: fc.option(fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }), { nil: undefined }),
  screenWidth: fc.oneof(fc.integer({ min: -1e6, max: 1e6 }), big),
  timezoneOffset: fc.oneof(fc.integer({ min: -1440, max: 1440 }), big),
  language: fc.oneof(fc.constantFrom('en-GB', 'pt-BR', 'zh-Hans-CN'), units()),
  userAgentData: fc.option(fc.record({ brands: fc.array(fc.record({ brand: fc.oneof(fc.constantFrom('Google Chrome', 'Chromium', 'Not A(Brand'), text), version }), { maxLength: 4 }), mobile: fc.boolean(), platform: text }), { nil: undefined }),
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
  sdk: fc.option(fc.oneof(fc.string({ maxLength: 10 }), text), { nil: undefined }),
  dropped: fc.option(big, { nil: undefined }),
  events: fc.array(event, { minLength: 1, maxLength: 8 }),
});

/** A cookieless tracker's batch (docs/collector.md, "Cookieless mode"): no deviceId, anonymousId, identityId, visitId or sessionId. */
const cookielessBatch = batch.map((b) => ({
  ...b,
  cookieless: true,
  events: b.events.map(({ deviceId: _d, anonymousId: _a, identityId: _i, visitId: _v, sessionId: _s, ...e }) => e),
}));

/** Header values as a client or a misconfigured proxy might send them: percent-encoded NUL, bad encodings, long ones. */
const headerValue = fc.oneof(
  fc.constantFrom('%00', 'a%00b', '%ZZ', '%C3%A3o', '%ED%A0%80', 'XX', 'T1', 'KP', '', ' '.repeat(3), 'S%C3%A3o%20Paulo'),
  fc.string({ maxLength: 40 }),
  units(),
  fc.constantFrom('x'.repeat(300), '🙂'.repeat(100)),
);
const userAgent = fc.oneof(
  fc.constantFrom('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Googlebot/2.1', ''),
  version.map((v) => `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0 Safari/537.36`),
  version.map((v) => `Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Version/${v} Mobile/15E148 Safari/604.1`),
  units(),
  text,
);
const GEO_NAMES = [...DEFAULT_GEO_HEADERS.country, ...DEFAULT_GEO_HEADERS.region, ...DEFAULT_GEO_HEADERS.city];
/** The headers the collector reads besides the content type: any subset of the geo ones, a User-Agent or none. */
const headers = fc.record({
  ua: fc.option(userAgent, { nil: undefined }),
  geo: fc.dictionary(fc.constantFrom(...GEO_NAMES), headerValue, { maxKeys: 6 }),
  forwarded: fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), headerValue), { nil: undefined }),
});

/** Anything in the wrong place: wrong types, absurd numbers, deep nesting, hostile strings, missing values. */
const wrong = fc.oneof(
  fc.jsonValue({ maxDepth: 30 }),
  fc.constantFrom(null, '', -1, 0, 1e300, 2 ** 53, -(2 ** 31), 'x'.repeat(70), '7', true, [], {}),
  fc.double(),
  units(),
);
// deviceId and sessionId are left alone: a device's sessionIds stay its own (see `event`).
const FIELDS = ['v', 'projectId', 'sentAt', 'sdk', 'dropped', 'cookieless', 'events', 'id', 'type', 'ts', 'seq', 'anonymousId', 'visitId', 'tabId', 'pageId', 'identityId', 'url', 'title', 'navigationType', 'activeTime', 'userActions', 'name', 'properties', 'traits', 'screenWidth', 'timezoneOffset', 'userAgentData', 'clickIds'];

/** A valid batch with one field, of the batch or of one event, set to something wrong (or removed). */
const mutated = fc.tuple(fc.oneof(batch, cookielessBatch), fc.constantFrom(...FIELDS), fc.nat(7), fc.option(wrong, { nil: undefined })).map(([b, field, index, value]) => {
  const copy = JSON.parse(JSON.stringify(b));
  const target = ['v', 'projectId', 'sentAt', 'sdk', 'dropped', 'cookieless', 'events'].includes(field) ? copy : copy.events[index % copy.events.length];
  if (value === undefined) delete target[field];
  else target[field] = value;
  return copy;
});

/** Whole bodies: valid batches, mutated ones, JSON of any shape, and text that is not JSON. */
const body = fc.oneof(
  { weight: 4, arbitrary: batch.map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: cookielessBatch.map((b) => JSON.stringify(b)) },
  { weight: 4, arbitrary: mutated.map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 30 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: units() },
  { weight: 1, arbitrary: batch.map((b) => JSON.stringify(b).slice(0, -3)) },
);
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('text/plain;charset=UTF-8', 'application/json', 'text/plain') },
  { weight: 1, arbitrary: fc.constantFrom('application/octet-stream', 'application/json; charset=utf-16', 'multipart/form-data') },
);

for (const backend of backends())
describe(`collector fuzz, on ${backend.name}`, () => {
  let db: Database;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await backend.open();
    // A trusted proxy that sets every geo header the sessionizer knows (so that the rows compare with a batch run's),
    // whole IPs from X-Forwarded-For: every header-derived column is reached.
    const config = parseConfig({
      projects: [{ id: 1, origins: ['*'], readTokens: [], fullIp: true, eventsPerMinute: 1e9 }],
      requestsPerMinutePerIp: 1e9,
      trustProxy: true,
      geoHeaders: DEFAULT_GEO_HEADERS,
    });
    ({ app } = await createCollector({ db, config, now: () => T0 }));
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await db?.close();
    await backend.stop();
  });

  it(`never answers 5xx to ${RUNS} generated requests (bodies and headers), and stores only what is valid`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, contentType, headers, async (payload, type, { ua, geo, forwarded }) => {
        const response = await app.inject({
          method: 'POST',
          url: '/collect',
          headers: { 'content-type': type, ...(ua === undefined ? {} : { 'user-agent': ua }), ...(forwarded === undefined ? {} : { 'x-forwarded-for': forwarded }), ...geo },
          payload,
        });
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        expect(response.statusCode, response.body).toBeLessThan(500);
        if (response.statusCode >= 400) expect(response.json().error).toEqual(expect.any(String));
        // What the collector accepts, `sessionize` takes (validate.ts).
        if (response.statusCode === 200) expect(requestProblem({ receivedAt: T0, body: JSON.parse(payload) })).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
    // Not vacuous: both accepted and refused bodies were seen.
    expect(statuses.get(200)).toBeGreaterThan(RUNS / 20);
    expect(statuses.get(400)).toBeGreaterThan(RUNS / 20);

    const stored = await storedEvents(db);
    expect(stored.length).toBeGreaterThan(0);
    for (const e of stored) expect(batchProblem({ v: 1, projectId: 1, sentAt: e.request.sentAt, events: [e.event] })).toBeUndefined();
    // A cookieless request's IP is never stored, not even from a forged X-Forwarded-For.
    const cookieless = stored.filter((e) => e.request.cookieless);
    expect(cookieless.length).toBeGreaterThan(0);
    for (const e of cookieless) expect(e.request.ip).toBeUndefined();
    const table = await sessionRows(db);
    const expected = expectedRows(stored);
    const keys = (rows: typeof table) => rows.map((r) => JSON.stringify([r.projectId, r.sessionStart, r.sessionId, r.deviceId]));
    expect(keys(table)).toEqual(keys(expected));
    // Row by row, so that a failure shows the one row that differs.
    for (let i = 0; i < table.length; i++) expect(table[i]).toEqual(expected[i]);
    // Not vacuous: the sums and the headers reached the columns.
    expect(table.some((r) => r.activeTime === INT_MAX)).toBe(true);
    expect(table.some((r) => r.userActionsCount === INT_MAX)).toBe(true);
    expect(table.some((r) => r.countryCode !== null || r.city !== null)).toBe(true);
    expect(table.some((r) => r.browserVersion === null && /Chrome\//.test(r.userAgent ?? ''))).toBe(true);
    expect(table.some((r) => r.tags?.includes('cookieless') && r.ipAddress === null)).toBe(true);
  }, 600_000);
});

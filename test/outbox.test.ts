import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createOutbox, RETRY } from '../src/client/outbox';
import { createQueue } from '../src/client/queue';
import { retryAfterMs } from '../src/client/transport';
import { REQUEST_TIMEOUT } from '../src/client/outbox';
import { expandEvents, MAX_REQUEST_BYTES, type WireEvent } from '../src/protocol';
import { memoryAsyncArea, recordingTransport } from './helpers';

const T0 = Date.UTC(2026, 10, 22, 12);
const event = (i: number, pad = 0): WireEvent => ({
  id: `e${i}`, type: 'track', ts: T0 + i, seq: i, name: 'n' + 'x'.repeat(pad),
  deviceId: 'd', anonymousId: 'a', visitId: 'v', sessionId: 's', tabId: 't', pageId: 'p',
});

function setup(random = () => 1, maxEvents = 50) {
  const transport = recordingTransport();
  const queue = createQueue(memoryAsyncArea(), 'page', () => Date.now());
  let held = false;
  const outbox = createOutbox({ endpoint: '/c', sdk: 't', flushInterval: 1000, maxEvents }, transport.send, () => Date.now(), () => held, queue, random);
  return { transport, queue, outbox, hold: (h: boolean) => (held = h) };
}
const ids = (events: WireEvent[]) => events.map((e) => e.id);

describe('outbox', () => {
  beforeEach(() => vi.useFakeTimers({ now: T0 }));
  afterEach(() => vi.useRealTimers());

  it('removes events from the queue only when the collector acknowledged them', async () => {
    const { transport, queue, outbox } = setup();
    transport.fail = true;
    outbox.add(event(1));
    await outbox.flush();
    expect(ids(queue.events)).toEqual(['e1']);
    transport.fail = false;
    await outbox.flush();
    expect(queue.events).toHaveLength(0);
  });

  it('retries network errors and 5xx with exponential backoff, jitter and a cap; ts and id never change, sentAt does', async () => {
    const { transport, outbox } = setup(() => 1);
    transport.status = 500;
    outbox.add(event(1));
    await vi.advanceTimersByTimeAsync(1000); // first attempt
    const times: number[] = [];
    for (let i = 0; i < 12; i++) {
      const before = transport.attempts.length;
      const start = Date.now();
      while (transport.attempts.length === before) await vi.advanceTimersByTimeAsync(100);
      times.push(Date.now() - start);
    }
    // random() = 1: the ceiling itself, doubling from 1 s, capped.
    expect(times.slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(Math.max(...times)).toBe(RETRY.cap);
    const attempts = transport.attempts;
    expect(new Set(attempts.map((a) => a.body.events[0].id))).toEqual(new Set(['e1']));
    expect(new Set(attempts.map((a) => a.body.events[0].ts))).toEqual(new Set([T0 + 1]));
    expect(new Set(attempts.map((a) => a.body.sentAt)).size).toBe(attempts.length);
  });

  it('draws the delay between half and all of the ceiling (equal jitter)', async () => {
    const { transport, outbox } = setup(() => 0);
    transport.answers.push({ status: 503 });
    outbox.add(event(1));
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(499);
    expect(transport.attempts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.attempts).toHaveLength(2);
  });

  it.each([429, 503])('honours Retry-After on %i', async (status) => {
    const { transport, outbox } = setup();
    transport.answers.push({ status, retryAfter: 30_000 });
    outbox.add(event(1));
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(transport.attempts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.attempts).toHaveLength(2);
    expect(transport.events.map((e) => e.id)).toEqual(['e1']);
  });

  it('retries 408', async () => {
    const { transport, queue, outbox } = setup();
    transport.answers.push({ status: 408 });
    outbox.add(event(1));
    await vi.advanceTimersByTimeAsync(1000);
    expect(ids(queue.events)).toEqual(['e1']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(queue.events).toHaveLength(0);
  });

  it.each([400, 403, 404, 422])('drops events the collector refuses with %i, and reports the count in the next batch', async (status) => {
    const { transport, queue, outbox } = setup();
    transport.answers.push({ status });
    outbox.add(event(1));
    outbox.add(event(2));
    await outbox.flush();
    expect(queue.events).toHaveLength(0);
    outbox.add(event(3));
    await outbox.flush();
    expect(transport.batches[0]).toMatchObject({ dropped: 2 });
    outbox.add(event(4));
    await outbox.flush();
    expect(transport.batches[1]).not.toHaveProperty('dropped'); // reported once
    expect(transport.attempts).toHaveLength(3); // never retried
  });

  it('splits a request answered 413 and drops a lone event that is still too large', async () => {
    const { transport, queue, outbox } = setup();
    transport.answers.push({ status: 413 }, { status: 204 }, { status: 413 }, { status: 204 }, { status: 413 });
    for (let i = 1; i <= 4; i++) outbox.add(event(i));
    await outbox.flush();
    // [1,2,3,4] 413 -> [1,2] ok, [3,4] 413 -> [3] ok, [4] 413 -> dropped
    expect(transport.attempts.map((a) => ids(expandEvents(a.body)))).toEqual([['e1', 'e2', 'e3', 'e4'], ['e1', 'e2'], ['e3', 'e4'], ['e3'], ['e4']]);
    expect(queue.events).toHaveLength(0);
    expect(queue.dropped).toBe(1);
  });

  it('a dropped count rides on one body: a 413 split after a drop reports it once, never negative', async () => {
    const { transport, queue, outbox } = setup();
    transport.answers.push({ status: 400 }, { status: 413 });
    outbox.add(event(1));
    outbox.add(event(2));
    await outbox.flush(); // refused for good: 2 dropped
    for (let i = 3; i <= 6; i++) outbox.add(event(i));
    await outbox.flush(); // [3..6] 413 -> [3,4] ok, [5,6] ok
    outbox.add(event(7));
    await outbox.flush();
    const reported = transport.attempts.filter((a) => a.status === 204).map((a) => a.body.dropped ?? 0);
    expect(reported.reduce((a, b) => a + b, 0)).toBe(2);
    expect(Math.min(...reported)).toBe(0);
    expect(queue.dropped).toBe(0);
    expect(transport.events.map((e) => e.id)).toEqual(['e3', 'e4', 'e5', 'e6', 'e7']);
  });

  it('two flushes in flight never report the same dropped count twice', async () => {
    const { transport, queue, outbox } = setup();
    transport.answers.push({ status: 422 });
    outbox.add(event(1));
    await outbox.flush(); // 1 dropped
    let answer!: () => void;
    const slow = transport.send;
    const gate = new Promise<void>((resolve) => (answer = resolve));
    const send: typeof slow = (...args) => gate.then(() => slow(...args));
    const second = createOutbox({ endpoint: '/c', sdk: 't', flushInterval: 1000, maxEvents: 50 }, send, () => Date.now(), () => false, queue);
    second.add(event(2));
    const first = second.flush();
    second.add(event(3));
    const next = second.flush(); // e3 only: e2 is in flight
    answer();
    await Promise.all([first, next]);
    const reported = transport.attempts.slice(1).map((a) => a.body.dropped ?? 0);
    expect(reported.sort()).toEqual([0, 1]);
    expect(queue.dropped).toBe(0);
  });

  it('a body that failed gives its dropped count back, for the next attempt', async () => {
    const { transport, queue, outbox } = setup();
    transport.answers.push({ status: 404 }, { status: 503 });
    outbox.add(event(1));
    await outbox.flush();
    outbox.add(event(2));
    await outbox.flush(); // 503: not reported yet
    expect(queue.dropped).toBe(1);
    await outbox.flush();
    expect(transport.batches.map((b) => b.dropped)).toEqual([1]);
    expect(queue.dropped).toBe(0);
  });

  it('retries at once when the browser comes back online', async () => {
    const { transport, outbox } = setup();
    transport.fail = true;
    outbox.add(event(1));
    await vi.advanceTimersByTimeAsync(1000);
    transport.fail = false;
    outbox.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.events.map((e) => e.id)).toEqual(['e1']);
  });

  it('never sends an event twice at once: events in flight wait for their answer', async () => {
    const { transport, outbox } = setup();
    let answer!: (a: { status: number }) => void;
    const send = transport.send;
    transport.send = (url, body, leaving) => (transport.attempts.length ? send(url, body, leaving) : new Promise((r) => { answer = r; transport.attempts.push({ body: JSON.parse(body), leaving, status: 0 }); }));
    const o2 = createOutbox({ endpoint: '/c', sdk: 't', flushInterval: 1000, maxEvents: 50 }, transport.send, () => Date.now(), () => false, createQueue(memoryAsyncArea(), 'x', () => Date.now()));
    o2.add(event(1));
    const first = o2.flush();
    o2.add(event(2));
    await o2.flush();
    expect(transport.attempts.map((a) => ids(expandEvents(a.body)))).toEqual([['e1'], ['e2']]);
    answer({ status: 204 });
    await first;
    void outbox;
  });

  it('keeps the keepalive bytes in flight within 64 KiB while leaving; the rest stays queued', async () => {
    const { transport, queue, outbox, hold } = setup(() => 1, 1000);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const send = transport.send;
    transport.send = (url, body, leaving) => gate.then(() => send(url, body, leaving));
    hold(true); // let ~130 KB pile up (consent pending), then leave
    for (let i = 0; i < 60; i++) outbox.add(event(i, 2000));
    hold(false);
    const leaving = outbox.flush(true);
    await vi.advanceTimersByTimeAsync(0);
    release();
    await leaving;
    const sentBytes = transport.attempts.reduce((n, a) => n + new TextEncoder().encode(JSON.stringify(a.body)).length, 0);
    expect(transport.attempts.every((a) => a.leaving)).toBe(true);
    expect(sentBytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(queue.events.length).toBe(60 - transport.events.length);
    expect(queue.events.length).toBeGreaterThan(0);
  });

  it('aborts requests in flight when the page is left, and gives up on a collector that never answers; the events stay queued', async () => {
    const transport = recordingTransport();
    const signals: AbortSignal[] = [];
    const hanging = (_u: string, _b: string, _l: boolean, signal?: AbortSignal) =>
      new Promise<{ status: number }>((resolve) => {
        signals.push(signal!);
        signal!.addEventListener('abort', () => resolve({ status: 0 }));
      });
    const queue = createQueue(memoryAsyncArea(), 'q', () => Date.now());
    const o = createOutbox({ endpoint: '/c', sdk: 't', flushInterval: 1000, maxEvents: 50 }, hanging, () => Date.now(), () => false, queue);
    o.add(event(1));
    const first = o.flush();
    o.abort(); // pagehide
    await first;
    expect(signals[0].aborted).toBe(true);
    expect(ids(queue.events)).toEqual(['e1']);
    const second = o.flush();
    await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT - 1);
    expect(signals[1].aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await second;
    expect(signals[1].aborted).toBe(true);
    expect(ids(queue.events)).toEqual(['e1']);
    void transport;
  });

  it('leaves events queued after a beacon (fate unknown), for the next page', async () => {
    const { transport, queue, outbox } = setup();
    transport.answers.push({ status: -1 });
    outbox.add(event(1));
    await outbox.flush(true);
    expect(ids(queue.events)).toEqual(['e1']);
  });

  it('sends nothing while held (consent pending), then everything', async () => {
    const { transport, outbox, hold } = setup();
    hold(true);
    outbox.add(event(1));
    await vi.advanceTimersByTimeAsync(5000);
    await outbox.flush(true);
    expect(transport.attempts).toHaveLength(0);
    hold(false);
    await outbox.flush();
    expect(transport.events).toHaveLength(1);
  });

  it('splits a beacon the browser refuses (over its budget) and hands over the halves', async () => {
    const { transport, queue, outbox } = setup(() => 1, 1000);
    // The browser refuses beacons over 20 KB: halves are tried until they fit.
    const send = transport.send;
    transport.send = (url, body, leaving) => (body.length > 20_000 ? (transport.attempts.push({ body: JSON.parse(body), leaving, status: 0 }), Promise.resolve({ status: 0 })) : send(url, body, leaving));
    const o = createOutbox({ endpoint: '/c', sdk: 't', flushInterval: 1000, maxEvents: 1000 }, transport.send, () => Date.now(), () => false, queue);
    for (let i = 0; i < 20; i++) queue.add(event(i, 2000)); // ~42 KB: one body, refused
    await o.flush(true);
    const handed = transport.attempts.filter((a) => a.status === -1 || a.status === 204);
    expect(transport.attempts[0].status).toBe(0);
    expect(handed.flatMap((a) => ids(expandEvents(a.body))).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`).sort());
    expect(handed.every((a) => JSON.stringify(a.body).length <= 20_000)).toBe(true);
    void outbox;
  });

  it('a batch goes at once when 32 KB wait, before the interval', async () => {
    const { transport, outbox } = setup(() => 1, 1000);
    for (let i = 0; i < 20; i++) outbox.add(event(i, 2000));
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.batches.length).toBeGreaterThan(0);
  });

  it('a full batch goes at once', async () => {
    const { transport, outbox } = setup();
    for (let i = 0; i < 50; i++) outbox.add(event(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.batches).toHaveLength(1);
    expect(transport.batches[0].events).toHaveLength(50);
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('120')).toBe(120_000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', Date.UTC(2015, 9, 21, 7, 27, 0))).toBe(60_000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', Date.UTC(2016, 0, 1))).toBeUndefined();
  });
});

describe('outbox retry timing', () => {
  beforeEach(() => vi.useFakeTimers({ now: T0 }));
  afterEach(() => vi.useRealTimers());

  it('a later failure pushes the pending retry out to its own Retry-After', async () => {
    const transport = recordingTransport();
    const answers: ((a: { status: number; retryAfter?: number }) => void)[] = [];
    const sentAt: number[] = [];
    const send = transport.send;
    transport.send = (url, body, leaving) => {
      sentAt.push(Date.now());
      return sentAt.length <= 2 ? new Promise((r) => answers.push(r)) : send(url, body, leaving);
    };
    const outbox = createOutbox({ endpoint: '/c', sdk: 't', flushInterval: 1000, maxEvents: 50 }, transport.send, () => Date.now(), () => false, createQueue(memoryAsyncArea(), 'q', () => Date.now()));
    outbox.add(event(1));
    void outbox.flush(); // batch A in flight
    outbox.add(event(2));
    await vi.advanceTimersByTimeAsync(1000); // the timer sends batch B: both in flight
    await vi.advanceTimersByTimeAsync(500);
    answers[0]({ status: 503, retryAfter: 10_000 }); // A fails at T0+1.5 s: retry at T0+11.5 s
    await vi.advanceTimersByTimeAsync(500);
    answers[1]({ status: 503, retryAfter: 10_000 }); // B fails at T0+2 s: no retry before T0+12 s
    await vi.advanceTimersByTimeAsync(9_999);
    expect(sentAt).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sentAt).toEqual([T0, T0 + 1000, T0 + 12_000]);
  });
});

import type { Batch, WireEvent } from '../src/protocol';
import type { ReceivedRequest } from '../src/server/sessionizer';

export const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
export const MIN = 60_000;

let n = 0;
/** A wire event with defaults; `at` is the client ts. */
export function ev(at: number, over: Partial<WireEvent> & Record<string, unknown> = {}): WireEvent {
  n++;
  return {
    id: `ev${n}`,
    type: 'track',
    name: 'x',
    ts: at,
    seq: n,
    deviceId: 'dev1',
    anonymousId: 'anon1',
    visitId: 'cv1',
    sessionId: 'cs1',
    tabId: 'tab1',
    pageId: 'page1',
    ...over,
  } as WireEvent;
}

/** A request received `delay` ms after it was sent, from a client whose clock is `skew` ms off. */
export function req(events: WireEvent[], { sentAt, delay = 50, skew = 0, projectId = 1, ip = '203.0.113.77', userAgent = UA, headers }: { sentAt?: number; delay?: number; skew?: number; projectId?: number | string; ip?: string; userAgent?: string; headers?: Record<string, string> } = {}): ReceivedRequest {
  const sent = sentAt ?? Math.max(...events.map((e) => e.ts));
  const body: Batch = { v: 1, projectId, sentAt: sent, sdk: '0.1.0', events };
  return { receivedAt: sent - skew + delay, ip, userAgent, headers, body };
}

export const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

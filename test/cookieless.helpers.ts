import type { Batch } from '../src/protocol';
import type { ReceivedRequest } from '../src/server';
import { MIN, UA } from './sessionizer.helpers';

/** Midnight UTC between 2026-12-01 and 2026-12-02. */
export const MIDNIGHT = Date.UTC(2026, 11, 2);
export const IP = '198.51.100.7';
export const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';

let loads = 0;
/**
 * One page load of a cookieless tracker, as its request arrives: a page view at
 * `at`, and its page_leave with 4 s of activeTime and 2 actions, sent together a
 * second later and received 50 ms after that. Every load has a new tabId and
 * pageId (they live in the page's memory), shared at the batch's top.
 */
export function pageLoad(at: number, { ip = IP, userAgent = UA, path = '/', projectId = 7 }: { ip?: string; userAgent?: string; path?: string; projectId?: number } = {}): ReceivedRequest {
  const n = ++loads;
  const events = [
    { id: `view-${n}`, type: 'page_view', ts: at, seq: 0, url: `https://shop.example${path}`, title: 'Shop', navigationType: 'navigate', language: 'en-GB', screenWidth: 1280, screenHeight: 800 },
    { id: `leave-${n}`, type: 'page_leave', ts: at + 1000, seq: 1, activeTime: 4000, userActions: 2 },
  ];
  const body = { v: 1, projectId, sentAt: at + 1000, sdk: '0.1.0', cookieless: true, tabId: `tab-${n}`, pageId: `page-${n}`, events } as unknown as Batch;
  return { receivedAt: at + 1050, ip, userAgent, body };
}

/** Page loads `every` apart from `from`, `count` of them. */
export const pageLoads = (from: number, count: number, every = 2 * MIN, options: Parameters<typeof pageLoad>[1] = {}) =>
  Array.from({ length: count }, (_, k) => pageLoad(from + k * every, options));

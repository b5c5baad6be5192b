import { test as base, expect, type Page } from '@playwright/test';
import type { PageViewEvent, TrackEvent, WireEvent } from '../src/protocol';
// @ts-expect-error: a plain .mjs helper without types
import { startBeaconServer } from './support/beacon-server.mjs';
import { startCollector, type Collector } from './support/collector';

export interface ReceivedBatch {
  receivedAt: number;
  contentType: string;
  bytes: number;
  v: number;
  projectId?: number | string;
  sentAt: number;
  sdk: string;
  events: WireEvent[];
}

export type Answer = { status: number; headers?: Record<string, string>; delay?: number } | 'hang' | 'reset';

export interface BeaconServer {
  origin: string;
  url(path: string): string;
  /** The batches the server acknowledged (2xx): what a collector would have stored. */
  batches: ReceivedBatch[];
  events(): WireEvent[];
  /** Every POST /collect, answered or not. */
  attempts: { at: number; answer: number | string; batch: ReceivedBatch }[];
  /** How to answer the next POST /collect. */
  respond: (batch: ReceivedBatch) => Answer;
  clear(): void;
  close(): Promise<void>;
}

/**
 * Each test gets its own beacon server (own origin, own beacon log); Playwright
 * gives it a fresh browser context. Tests that need the real collector share one
 * per worker (its embedded database takes seconds to create): each test reads
 * back only the rows of its own device.
 */
export const test = base.extend<{ server: BeaconServer }, { collector: Collector }>({
  // eslint-disable-next-line no-empty-pattern
  server: async ({}, use) => {
    const server: BeaconServer = await startBeaconServer({ mounts: { '/dist/': 'dist', '/': 'e2e/pages' } });
    await use(server);
    await server.close();
  },
  collector: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const collector = await startCollector();
      await use(collector);
      await collector.close();
    },
    { scope: 'worker', timeout: 90_000 },
  ],
});

export { expect };

/** Waits until the server has received events matching `predicate`, and returns them. */
export async function received<T extends WireEvent = WireEvent>(
  server: BeaconServer,
  predicate: (e: WireEvent) => boolean,
  count = 1,
): Promise<T[]> {
  await expect.poll(() => server.events().filter(predicate).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(count);
  return server.events().filter(predicate) as T[];
}

export const pageViews = (server: BeaconServer, count = 1) => received<PageViewEvent>(server, (e) => e.type === 'page_view', count);

type Sb = (...args: unknown[]) => unknown;

/** Calls the page's `sessionbeacon(...)`, as a site's own script would. */
export const call = (page: Page, ...args: unknown[]) =>
  page.evaluate((a) => (window as unknown as { sessionbeacon: Sb }).sessionbeacon(...a), args);

/** Asks the tracker of `page` to send what it holds now. */
export const flush = (page: Page) => call(page, 'flush');

/** Tracks `count` events named `name`, numbered 0..count-1 in their properties. */
export const trackMany = (page: Page, name: string, count: number) =>
  page.evaluate(([n, c]) => {
    for (let i = 0; i < (c as number); i++) (window as unknown as { sessionbeacon: Sb }).sessionbeacon('track', n, { i });
  }, [name, count] as const);

/**
 * Waits until the server acknowledged every event `name` 0..count-1, then checks
 * that each logical event has exactly one id: copies are retries of the same
 * event (deduped by the collector), never a second event.
 */
export async function expectExactly(server: BeaconServer, name: string, count: number) {
  const numbered = () => server.events().filter((e): e is TrackEvent => e.type === 'track' && e.name === name);
  await expect.poll(() => new Set(numbered().map((e) => e.properties?.i)).size, { timeout: 20_000 }).toBe(count);
  const idsByNumber = new Map<unknown, Set<string>>();
  for (const e of numbered()) idsByNumber.set(e.properties!.i, (idsByNumber.get(e.properties!.i) ?? new Set()).add(e.id));
  expect([...idsByNumber.keys()].sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: count }, (_, i) => i));
  for (const ids of idsByNumber.values()) expect(ids.size).toBe(1);
}

/** Waits for the restore, and says why there was none (Chromium's NotRestoredReasons) if it did not come from the cache. */
export async function expectRestoredFromCache(page: Page) {
  const restored = () => page.evaluate(() => (window as unknown as { restoredFromCache?: boolean }).restoredFromCache);
  await expect.poll(async () => (await restored()) !== undefined).toBe(true);
  const why = await page.evaluate(() => JSON.stringify((performance.getEntriesByType('navigation')[0] as unknown as { notRestoredReasons?: unknown }).notRestoredReasons ?? null));
  expect(await restored(), `not restored from the back/forward cache: ${why}`).toBe(true);
}

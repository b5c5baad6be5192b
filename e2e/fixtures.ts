import { test as base, expect, type Page } from '@playwright/test';
import type { PageViewEvent, WireEvent } from '../src/protocol';
// @ts-expect-error: a plain .mjs helper without types
import { startBeaconServer } from './support/beacon-server.mjs';

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

/** Each test gets its own server (own origin, own beacon log); Playwright gives it a fresh browser context. */
export const test = base.extend<{ server: BeaconServer }>({
  // eslint-disable-next-line no-empty-pattern
  server: async ({}, use) => {
    const server: BeaconServer = await startBeaconServer({ mounts: { '/dist/': 'dist', '/': 'e2e/pages' } });
    await use(server);
    await server.close();
  },
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

/** Asks the tracker of `page` to send what it holds now. */
export const flush = (page: Page) => page.evaluate(() => (window as unknown as { sessionbeacon(m: string): Promise<void> }).sessionbeacon('flush'));

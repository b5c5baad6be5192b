import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken } from '../../src/server/collector/config';
import { startServe } from '../../test/support/processes.mjs';

/** The test pages' project (data-project="42" in e2e/pages/). */
export const PROJECT_ID = 42;

export interface Collector {
  origin: string;
  token: string;
  url(path: string): string;
  /** GET a read route with the project's token. */
  read<T>(path: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * The real collector, as users run it: the built `sessionbeacon serve` in its own
 * process, with an embedded PGlite in a temporary folder, serving the test pages
 * under /pages/ and the built script under /dist/ (the sessions page is at /).
 */
export async function startCollector(): Promise<Collector> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-e2e-collector-'));
  const token = `e2e-${Math.random().toString(36).slice(2)}`;
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ projects: [{ id: PROJECT_ID, origins: ['*'], readTokens: [hashToken(token)] }] }));
  const served = await startServe(['--data', join(dir, 'db'), '--config', config, '--static', '/pages/=e2e/pages', '--static', '/dist/=dist', '--quiet']);
  const origin = served.url;
  return {
    origin,
    token,
    url: (path) => origin + path,
    async read<T>(path: string) {
      const response = await fetch(origin + path, { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    },
    async close() {
      await served.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

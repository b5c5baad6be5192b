import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken } from '../../src/server/collector/config';
import { startServe } from '../../test/support/processes.mjs';

/** The test pages' project (data-project="42" in e2e/pages/). */
export const PROJECT_ID = 42;
/** The examples' project (examples/: projectId 1). */
export const EXAMPLES_PROJECT_ID = 1;

export interface Collector {
  origin: string;
  /** The read token of project 42 (the test pages); project 1's is `${token}-1`. */
  token: string;
  url(path: string): string;
  /** GET a read route with the token of `projectId` (default 42). */
  read<T>(path: string, projectId?: number): Promise<T>;
  close(): Promise<void>;
}

/**
 * The real collector, as users run it: the built `sessionbeacon serve` in its own
 * process, with an embedded PGlite in a temporary folder, serving the test pages
 * under /pages/, the examples under /examples/ and the built script under /dist/
 * (the sessions page is at /).
 */
export async function startCollector(): Promise<Collector> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-e2e-collector-'));
  const token = `e2e-${Math.random().toString(36).slice(2)}`;
  const config = join(dir, 'config.json');
  const tokenOf = (projectId: number) => (projectId === PROJECT_ID ? token : `${token}-${projectId}`);
  writeFileSync(
    config,
    JSON.stringify({ projects: [PROJECT_ID, EXAMPLES_PROJECT_ID].map((id) => ({ id, origins: ['*'], readTokens: [hashToken(tokenOf(id))] })) }),
  );
  const served = await startServe(['--data', join(dir, 'db'), '--config', config, '--static', '/pages/=e2e/pages', '--static', '/examples/=examples', '--static', '/dist/=dist', '--quiet']);
  const origin = served.url;
  return {
    origin,
    token,
    url: (path) => origin + path,
    async read<T>(path: string, projectId = PROJECT_ID) {
      const response = await fetch(origin + path, { headers: { authorization: `Bearer ${tokenOf(projectId)}` } });
      if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    },
    async close() {
      await served.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

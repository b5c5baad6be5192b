import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, executablePath } from './e2e/support/chromium.mjs';

/** Where the examples are served for their tests (`sessionbeacon serve`, as `npm start` does). */
const EXAMPLES_PORT = Number(process.env.SESSIONBEACON_EXAMPLES_PORT ?? 8797);

export default defineConfig({
  timeout: 30_000,
  fullyParallel: true,
  workers: process.env.CI ? 2 : undefined,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath, args: CHROMIUM_ARGS },
  },
  projects: [
    // The SDK and the collector, each test with its own servers (e2e/fixtures.ts).
    { name: 'e2e', testDir: 'e2e' },
    // The examples' own tests, as a site's tests would be written (examples/tests/).
    { name: 'examples', testDir: 'examples/tests', use: { baseURL: `http://127.0.0.1:${EXAMPLES_PORT}` } },
  ],
  webServer: {
    command: `node packages/server/bin/sessionbeacon.mjs serve --port ${EXAMPLES_PORT} --data ${join(tmpdir(), 'sessionbeacon-examples')} --static /examples/=examples --static /dist/=dist --quiet`,
    url: `http://127.0.0.1:${EXAMPLES_PORT}/healthz`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});

// As `npm init playwright@latest` writes it (a CommonJS project), with the browser
// this machine has (CHROMIUM_PATH, CHROMIUM_ARGS) and the site on PORT.
import { defineConfig, devices } from '@playwright/test';

const port = Number(process.env.PORT);

export default defineConfig({
  testDir: './tests',
  reporter: 'list',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: { executablePath: process.env.CHROMIUM_PATH || undefined, args: JSON.parse(process.env.CHROMIUM_ARGS || '[]') },
  },
  projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'] } }],
  webServer: { command: `node serve.js ${port}`, url: `http://127.0.0.1:${port}/`, reuseExistingServer: false },
});

import { existsSync } from 'node:fs';

/**
 * Real Chromium. Playwright cannot download its browsers on this project's
 * machines, so Debian's chromium is used when present; SESSIONBEACON_CHROMIUM
 * points at another binary, and with neither, Playwright's own browser is used.
 */
/** @type {string | undefined} */
export const executablePath =
  process.env.SESSIONBEACON_CHROMIUM || (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);

/** Flags for a headless Chromium on a machine with no network but loopback. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

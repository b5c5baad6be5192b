// @vitest-environment node
// The package as users get it, after `npm run build`: the exports map, ESM and
// CJS in Node (server-side rendering: no DOM, nothing may throw), and a
// script-tag build that is one self-contained IIFE.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

describe('the built package', () => {
  it('resolves `sessionbeacon` through its exports map, as ESM and as CJS', async () => {
    const esm = await import('sessionbeacon');
    const cjs = require('sessionbeacon');
    for (const mod of [esm, cjs]) {
      expect(typeof mod.createTracker).toBe('function');
      expect(mod.SDK_VERSION).toBe(pkg.version);
    }
  });

  it('exports the sessionizer as sessionbeacon/server, and the bin', async () => {
    const server = await import('sessionbeacon/server');
    expect(typeof server.sessionize).toBe('function');
    expect(typeof server.Engine).toBe('function');
    expect(pkg.bin.sessionbeacon).toBe('bin/sessionbeacon.mjs');
  });

  it('gives an inert tracker where there is no DOM (server-side rendering)', async () => {
    const { createTracker } = await import('sessionbeacon');
    const tracker = createTracker({ endpoint: '/collect' });
    expect(() => tracker.track('x')).not.toThrow();
    await expect(tracker.flush()).resolves.toBeUndefined();
    expect(tracker.ids).toEqual({});
  });

  it('ships the script-tag build as one IIFE with no imports, and sideEffects: false for bundlers', () => {
    const code = readFileSync(new URL('../dist/sessionbeacon.min.js', import.meta.url), 'utf8');
    expect(code.startsWith('!function(){')).toBe(true);
    expect(code).not.toMatch(/\bimport\s*[({"']|\brequire\(/);
    expect(pkg.sideEffects).toBe(false);
  });

  it('keeps the SDK version in one place', () => {
    const code = readFileSync(new URL('../dist/sessionbeacon.min.js', import.meta.url), 'utf8');
    expect(code).toContain(`"${pkg.version}"`);
  });
});

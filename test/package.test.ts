// @vitest-environment node
// The package as users get it, after `npm run build`: the exports map, ESM and
// CJS in Node (server-side rendering: no DOM, nothing may throw), and a
// script-tag build that is one self-contained IIFE.
import { createHash } from 'node:crypto';
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

  it('leaves the collector to its own package, sessionbeacon-server, with the bin, as ESM and as CJS', async () => {
    const serverPkg = JSON.parse(readFileSync(new URL('../packages/server/package.json', import.meta.url), 'utf8'));
    for (const server of [await import('sessionbeacon-server'), require('sessionbeacon-server')]) {
      expect(typeof server.sessionize).toBe('function');
      expect(typeof server.Engine).toBe('function');
    }
    expect(serverPkg.bin.sessionbeacon).toBe('bin/sessionbeacon.mjs');
    expect(pkg.bin).toBeUndefined();
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['idb-keyval', 'nanoid']);
    expect(pkg.exports['./server']).toBeUndefined();
  });

  it('has at run time every value its types declare (index, testing, server)', async () => {
    const entries: [string, string, unknown][] = [
      ['sessionbeacon', '../dist/index.d.mts', await import('sessionbeacon')],
      ['sessionbeacon (CJS)', '../dist/index.d.cts', require('sessionbeacon')],
      ['sessionbeacon/testing', '../dist/testing.d.mts', await import('sessionbeacon/testing')],
      ['sessionbeacon/testing (CJS)', '../dist/testing.d.cts', require('sessionbeacon/testing')],
      ['sessionbeacon-server', '../packages/server/dist/server.d.mts', await import('sessionbeacon-server')],
      ['sessionbeacon-server (CJS)', '../packages/server/dist/server.d.cts', require('sessionbeacon-server')],
    ];
    for (const [name, types, mod] of entries) {
      const text = readFileSync(new URL(types, import.meta.url), 'utf8');
      // The bundled declarations end in one `export { a, b as c, ... }` of values and one `export type { ... }`.
      const values = [...text.matchAll(/^export \{([^}]*)\};$/gm)].flatMap((m) => m[1].split(',').map((s) => s.trim().split(/\s+as\s+/).pop()!));
      expect(values.length, name).toBeGreaterThan(0);
      expect(values.filter((v) => !(v in (mod as object))), name).toEqual([]);
    }
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

  it("gives the CSP hash of the README's inline stub, and the examples use that very stub", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const stub = /<script>(window\.sessionbeacon=[^<]*)<\/script>/.exec(readme)![1];
    const hash = `sha256-${createHash('sha256').update(stub).digest('base64')}`;
    expect(readme).toContain(`script-src '${hash}'`);
    for (const page of ['../examples/site/index.html', '../examples/consent/index.html'])
      expect(readFileSync(new URL(page, import.meta.url), 'utf8'), page).toContain(`<script>${stub}</script>`);
  });
});

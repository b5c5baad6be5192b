// @vitest-environment node
// The two packages as users install them (after `npm run build`): each packed with
// `npm pack`, checked by publint --strict and arethetypeswrong, and installed
// alone into throwaway consumer projects (test/consumers/) where it must load,
// type-check in every module mode and run. Installs come from npm's cache
// (--prefer-offline): `npm ci` of this repository already fetched every version.
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, executablePath } from '../e2e/support/chromium.mjs';

const ROOT = resolve(__dirname, '..');
const SERVER = join(ROOT, 'packages/server');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const devVersion = (name: string) => rootPkg.devDependencies[name] as string;

const run = promisify(execFile);
/** Runs a command; rejects with its output when it fails. */
async function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}`);
  }
}
const npm = (args: string[], cwd: string, env?: Record<string, string>) => sh('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd, env);
const tsc = (project: string, cwd: string) => sh(process.execPath, [TSC, '-p', project], cwd);

let work: string;
let sdkTarball: string;
let serverTarball: string;

/** A copy of test/consumers/<name> with `dependencies` installed as a user would. */
async function consumer(name: string, dependencies: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  cpSync(join(ROOT, 'test/consumers', name), dir, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, dependencies }, null, 2));
  await npm(['install', '--prefer-offline', '--no-package-lock'], dir);
  return dir;
}

/** The files `npm pack` would ship, by path. */
async function packedFiles(dir: string): Promise<string[]> {
  const [report] = JSON.parse(await npm(['pack', '--dry-run', '--json'], dir));
  return (report.files as { path: string }[]).map((f) => f.path).sort();
}

const sizeOf = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? sizeOf(join(dir, e.name)) : e.isFile() ? statSync(join(dir, e.name)).size : 0), 0);

const freePort = () =>
  new Promise<number>((res) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => res(port));
    });
  });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sb-consumers-'));
  const packed = async (dir: string) => {
    const [report] = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], dir));
    return join(work, report.filename);
  };
  [sdkTarball, serverTarball] = await Promise.all([packed(ROOT), packed(SERVER)]);
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

describe('the packed packages', () => {
  it('pass publint --strict and arethetypeswrong with no finding', async () => {
    for (const dir of [ROOT, SERVER]) {
      const lint = await sh(process.execPath, [join(ROOT, 'node_modules/publint/src/cli.js'), '--strict', dir], ROOT);
      expect(lint, dir).toContain('All good!');
    }
    // The script-tag file is a plain script asset, not a module: it has no types by design.
    const attw = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    expect(await sh(process.execPath, [attw, sdkTarball, '--exclude-entrypoints', 'sessionbeacon.min.js'], ROOT)).toContain('No problems found');
    expect(await sh(process.execPath, [attw, serverTarball], ROOT)).toContain('No problems found');
  }, 120_000);

  it('ship what users need and nothing else (the source maps carry their sources)', async () => {
    const sdk = await packedFiles(ROOT);
    expect(sdk).toEqual(
      [
        'LICENSE',
        'README.md',
        'package.json',
        ...['index.cjs', 'index.cjs.map', 'index.d.cts', 'index.d.mts', 'index.mjs', 'index.mjs.map'].map((f) => `dist/${f}`),
        ...['sessionbeacon.min.js', 'sessionbeacon.min.js.map'].map((f) => `dist/${f}`),
        ...['testing.cjs', 'testing.cjs.map', 'testing.d.cts', 'testing.d.mts', 'testing.mjs', 'testing.mjs.map'].map((f) => `dist/${f}`),
      ].sort(),
    );
    const server = await packedFiles(SERVER);
    expect(server.filter((f) => !/^dist\/(server|cli)[\w.-]*\.(mjs|cjs|d\.mts|d\.cts|map)$|^dist\/dashboard\/(index\.html|dashboard\.js(\.map)?)$/.test(f))).toEqual([
      'LICENSE',
      'README.md',
      'bin/sessionbeacon.mjs',
      'package.json',
    ]);
    expect(server).toContain('dist/dashboard/index.html');
    for (const map of ['dist/index.mjs.map', 'dist/sessionbeacon.min.js.map']) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(ROOT, map), 'utf8'));
      expect(sourcesContent?.filter(Boolean).length, map).toBe(sources.length);
    }
  }, 60_000);
});

describe('sessionbeacon installed alone', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await consumer('sdk', { sessionbeacon: `file:${sdkTarball}` });
    // The README's npm snippet, exactly as written there, is type-checked with the site's code.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const snippet = /### npm\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toBeTruthy();
    writeFileSync(join(dir, 'readme.ts'), snippet!);
  }, 180_000);

  it('pulls no server dependency: only idb-keyval and nanoid', () => {
    const installed = readdirSync(join(dir, 'node_modules')).filter((n) => !n.startsWith('.')).sort();
    expect(installed).toEqual(['idb-keyval', 'nanoid', 'sessionbeacon']);
    expect(sizeOf(join(dir, 'node_modules'))).toBeLessThan(1 << 20);
  });

  it('loads from ESM and from CommonJS, sessionbeacon/testing included', async () => {
    expect(await sh(process.execPath, ['esm.mjs'], dir)).toContain('ok esm');
    expect(await sh(process.execPath, ['cjs/main.js'], dir)).toContain('ok cjs');
  });

  it('type-checks with moduleResolution bundler, node16 and nodenext, from ESM and from CommonJS', async () => {
    for (const project of ['tsconfig.bundler.json', 'tsconfig.node16.json', 'tsconfig.nodenext.json']) await tsc(project, dir);
  }, 60_000);

  it('type-checks in a project without the DOM library (server-side rendering, skipLibCheck as usual)', async () => {
    await tsc('tsconfig.nodom.json', dir);
  }, 30_000);

  it('bundles for the browser (rollup, node-resolve) through its exports map, with nothing of Node', async () => {
    const { rollup } = await import('rollup');
    const { default: nodeResolve } = await import('@rollup/plugin-node-resolve');
    const bundle = await rollup({ input: join(dir, 'browser.mjs'), plugins: [nodeResolve({ browser: true, rootDir: dir })] });
    const { output } = await bundle.generate({ format: 'es' });
    const ids = Object.keys(output[0].modules).map((m) => relative(dir, m));
    expect(ids.some((m) => m.startsWith('node_modules/sessionbeacon/dist/index.mjs'))).toBe(true);
    expect(output[0].code).not.toMatch(/from ['"]node:|require\(/);
  }, 60_000);
});

describe('a Playwright project (CommonJS, as npm init playwright makes it) using sessionbeacon/testing', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await consumer('playwright', {
      sessionbeacon: `file:${sdkTarball}`,
      '@playwright/test': devVersion('@playwright/test'),
      '@types/node': devVersion('@types/node'),
    });
    // The README's Playwright snippet, exactly as written there.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const snippet = /### In your Playwright tests[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toBeTruthy();
    mkdirSync(join(dir, 'tests'), { recursive: true });
    writeFileSync(join(dir, 'tests/readme.spec.ts'), snippet!);
  }, 180_000);

  it("type-checks the README's test with the helper's CommonJS types", async () => {
    await tsc('tsconfig.json', dir);
  }, 60_000);

  it("runs the README's test in Chromium against a page with the script tag from the installed package", async () => {
    const env = { PORT: String(await freePort()), CHROMIUM_PATH: executablePath ?? '', CHROMIUM_ARGS: JSON.stringify(CHROMIUM_ARGS), CI: '' };
    const out = await sh(process.execPath, [join(dir, 'node_modules/@playwright/test/cli.js'), 'test'], dir, env);
    expect(out).toMatch(/1 passed/);
  }, 120_000);
});

describe('sessionbeacon-server installed alone', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await consumer('server', { 'sessionbeacon-server': `file:${serverTarball}`, '@types/node': devVersion('@types/node') });
  }, 240_000);

  it('loads from ESM and CommonJS, and type-checks from both', async () => {
    expect(existsSync(join(dir, 'node_modules/sessionbeacon'))).toBe(false);
    expect(await sh(process.execPath, ['esm.mjs'], dir)).toContain('ok esm');
    expect(await sh(process.execPath, ['main.cjs'], dir)).toContain('ok cjs');
    await tsc('tsconfig.json', dir);
  }, 60_000);

  it('runs `sessionbeacon --help` and `sessionbeacon serve --help` with exit code 0', async () => {
    const bin = join(dir, 'node_modules/.bin/sessionbeacon');
    expect(await sh(bin, ['--help'], dir)).toContain('usage: sessionbeacon sessionize');
    expect(await sh(bin, ['serve', '--help'], dir)).toContain('usage: sessionbeacon serve');
  }, 30_000);

  it('serves: healthz and the sessions page from the installed package', async () => {
    const data = join(dir, 'data');
    const child = spawn(join(dir, 'node_modules/.bin/sessionbeacon'), ['serve', '--port', '0', '--data', data, '--quiet'], { cwd: dir });
    try {
      let output = '';
      const url = await new Promise<string>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`serve did not start:\n${output}`)), 60_000);
        const onData = (chunk: Buffer) => {
          output += chunk;
          const m = /collector on (http:\/\/\S+)/.exec(output);
          if (m) {
            clearTimeout(timer);
            res(m[1]);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => rej(new Error(`serve exited ${code}:\n${output}`)));
      });
      expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ ok: true, database: 'pglite' });
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('dashboard.js');
    } finally {
      child.kill('SIGTERM');
      await new Promise((res) => (child.exitCode !== null ? res(null) : child.once('exit', res)));
    }
  }, 90_000);
});

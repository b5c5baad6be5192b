import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';
import { publicNames } from './scripts/public-names.mjs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url)));
// The collector's package (packages/server/): built from src/server/ into its own dist/.
const serverPkg = JSON.parse(readFileSync(new URL('./packages/server/package.json', import.meta.url)));
const SERVER_DIST = 'packages/server/dist';
const serverExternal = (id) => id.startsWith('node:') || Object.keys(serverPkg.dependencies).some((dep) => id === dep || id.startsWith(`${dep}/`));
const serverTs = () =>
  typescript({ tsconfig: './tsconfig.server.json', noEmit: false, declaration: false, sourceMap: true, inlineSources: true, include: ['src/server/**/*.ts', 'src/protocol.ts'] });
/**
 * Types for both module systems: the bundled declarations under `.d.mts` and, the
 * same text, under `.d.cts`, so that TypeScript's node16/nodenext resolution sees
 * CommonJS types beside a CommonJS build (a `.d.ts` beside both "masquerades").
 */
const dtsBoth = (options) => [
  dts(options),
  {
    name: 'd-cts-copy',
    generateBundle(_, bundle) {
      for (const file of Object.values(bundle))
        if (file.type === 'chunk' && file.fileName.endsWith('.d.mts')) this.emitFile({ type: 'asset', fileName: file.fileName.replace(/\.d\.mts$/, '.d.cts'), source: file.code });
    },
  },
];
const ts = () => typescript({ tsconfig: './tsconfig.json', declaration: false, sourceMap: true, inlineSources: true, include: ['src/**/*.ts'] });
// nanoid's "browser" build uses crypto.getRandomValues; the Node one would pull in node:crypto.
const browserResolve = () => resolve({ browser: true });
const minify = () =>
  terser({
    ecma: 2022,
    module: true,
    toplevel: true,
    compress: { passes: 3, unsafe_arrows: true },
    // Every property of our own objects is renamed but the public and shared ones (scripts/public-names.mjs).
    mangle: { properties: { reserved: publicNames(), keep_quoted: true } },
    format: { comments: false },
  });

export default [
  // The script-tag build: one self-contained IIFE.
  {
    input: 'src/client/script.ts',
    output: { file: 'dist/sessionbeacon.min.js', format: 'iife', sourcemap: true },
    plugins: [browserResolve(), ts(), minify()],
  },
  // npm, ESM: idb-keyval and nanoid stay imports, so the app's bundler dedupes and tree-shakes them.
  {
    input: 'src/client/index.ts',
    external: Object.keys(pkg.dependencies),
    output: { file: 'dist/index.mjs', format: 'es', sourcemap: true },
    plugins: [ts()],
  },
  // npm, CommonJS: nanoid 5 is ESM-only, so both dependencies are bundled in.
  {
    input: 'src/client/index.ts',
    output: { file: 'dist/index.cjs', format: 'cjs', sourcemap: true, exports: 'named' },
    plugins: [browserResolve(), ts()],
  },
  {
    input: 'src/client/index.ts',
    output: { file: 'dist/index.d.mts', format: 'es' },
    plugins: dtsBoth(),
  },
  // examples/spa: an app importing the npm build, bundled as an app's bundler would (after dist/index.mjs above).
  {
    input: 'examples/spa/app.js',
    output: { file: 'dist/examples/spa.js', format: 'es', sourcemap: true },
    plugins: [{ name: 'sessionbeacon-from-dist', resolveId: (id) => (id === 'sessionbeacon' ? fileURLToPath(new URL('./dist/index.mjs', import.meta.url)) : null) }, browserResolve(), terser({ format: { comments: false } })],
  },
  // sessionbeacon/testing: the Playwright helper, run in the test process (docs/testing.md);
  // CommonJS too, since the project `npm init playwright` makes is CommonJS.
  {
    input: 'src/testing/index.ts',
    external: (id) => id.startsWith('@playwright/'),
    output: [
      { file: 'dist/testing.mjs', format: 'es', sourcemap: true },
      { file: 'dist/testing.cjs', format: 'cjs', sourcemap: true, exports: 'named' },
    ],
    plugins: [ts()],
  },
  {
    input: 'src/testing/index.ts',
    external: (id) => id.startsWith('@playwright/'),
    output: { file: 'dist/testing.d.mts', format: 'es' },
    plugins: dtsBoth(),
  },
  // The sessions page the collector serves at / (src/dashboard/): its script, and its HTML copied beside it.
  {
    input: 'src/dashboard/main.ts',
    output: { file: `${SERVER_DIST}/dashboard/dashboard.js`, format: 'iife', sourcemap: true },
    plugins: [
      ts(),
      terser({ ecma: 2022, format: { comments: false } }),
      {
        name: 'dashboard-html',
        buildStart() {
          this.addWatchFile('src/dashboard/index.html');
        },
        generateBundle() {
          this.emitFile({ type: 'asset', fileName: 'index.html', source: readFileSync('src/dashboard/index.html', 'utf8') });
        },
      },
    ],
  },
  // The collector's package (sessionbeacon-server): its API as ESM and CommonJS for Node 20, and
  // the command line (ESM, run by bin/sessionbeacon.mjs); its dependencies stay imports.
  {
    input: { server: 'src/server/index.ts', cli: 'src/server/cli.ts' },
    external: serverExternal,
    output: { dir: SERVER_DIST, format: 'es', entryFileNames: '[name].mjs', chunkFileNames: 'server-[hash].mjs', sourcemap: true },
    plugins: [serverTs()],
  },
  {
    input: 'src/server/index.ts',
    external: serverExternal,
    output: { file: `${SERVER_DIST}/server.cjs`, format: 'cjs', sourcemap: true, exports: 'named' },
    plugins: [serverTs()],
  },
  {
    input: 'src/server/index.ts',
    output: { file: `${SERVER_DIST}/server.d.mts`, format: 'es' },
    plugins: dtsBoth({ tsconfig: './tsconfig.server.json' }),
  },
];

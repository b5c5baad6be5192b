// The peers of bench/client.mjs, built as their projects ship them to a page:
//   Plausible: @plausible-analytics/tracker (MIT), its npm build, bundled by rollup +
//     terser into one script with init({ domain, endpoint, captureOnLocalhost }) (an
//     app's bundler does the same; Plausible's own script tag is this code).
//   Umami: the `umami` package (MIT) ships its tracker's source, src/tracker/index.js;
//     built as its rollup.tracker.config.mjs does (rollup, IIFE, terser with
//     compress.evaluate false; its endpoint replacement is not needed: the default
//     /api/send is kept).
// Versions are pinned in bench/package.json. Each package is fetched with `npm pack`
// (the package alone: Umami's dependencies are a whole web app and none is needed)
// into node_modules/.cache/sessionbeacon-bench/, once.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rollup } from 'rollup';
import terser from '@rollup/plugin-terser';

const root = new URL('..', import.meta.url).pathname;
const cache = join(root, 'node_modules/.cache/sessionbeacon-bench');
const pins = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).devDependencies;

/** The unpacked package folder of `name` at its pinned version. */
function unpacked(name) {
  const dir = join(cache, `${name.replace('/', '+')}@${pins[name]}`);
  if (!existsSync(join(dir, 'package/package.json'))) {
    mkdirSync(dir, { recursive: true });
    const file = execFileSync('npm', ['pack', `${name}@${pins[name]}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['xzf', join(dir, file), '-C', dir]);
  }
  return join(dir, 'package');
}

async function build(input, plugins, terserOptions) {
  const bundle = await rollup({ input, plugins: [...plugins, terser(terserOptions)], onwarn: () => {} });
  const { output } = await bundle.generate({ format: 'iife' });
  await bundle.close();
  return output[0].code;
}

/** A virtual entry module for rollup. */
const virtual = (id, code) => ({ name: 'entry', resolveId: (x) => (x === id ? id : null), load: (x) => (x === id ? code : null) });

/** @returns {Promise<{ plausible: string, umami: string, versions: Record<string, string> }>} minified code of each peer */
export async function buildPeers() {
  const out = join(cache, 'built.json');
  if (existsSync(out)) {
    const built = JSON.parse(readFileSync(out, 'utf8'));
    if (JSON.stringify(built.versions) === JSON.stringify(pins)) return built;
  }
  const plausibleDir = unpacked('@plausible-analytics/tracker');
  const plausible = await build(
    'plausible-entry',
    [virtual('plausible-entry', `import { init } from ${JSON.stringify(join(plausibleDir, 'plausible.js'))};\ninit({ domain: 'bench.example', endpoint: '/api/event', captureOnLocalhost: true, logging: false });`)],
    { format: { comments: false } },
  );
  const umamiDir = unpacked('umami');
  const umami = await build(join(umamiDir, 'src/tracker/index.js'), [], { compress: { evaluate: false } });
  const built = { plausible, umami, versions: pins };
  writeFileSync(out, JSON.stringify(built));
  return built;
}

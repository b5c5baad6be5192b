// Processes the tests, the e2e tests, the benchmarks and scripts/ start: the
// built `sessionbeacon serve` (as users run it), and a throwaway PostgreSQL
// cluster on loopback from Debian's packages. Plain JS so that bench/ and
// scripts/ can import it on Node 20 too; types in processes.d.mts.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The `sessionbeacon` command of the collector's package (packages/server/), as `npx sessionbeacon` runs it. */
export const CLI = 'packages/server/bin/sessionbeacon.mjs';

/**
 * Starts `node packages/server/bin/sessionbeacon.mjs serve --port 0 ...args`
 * (after `npm run build`) and resolves once it listens, with its URL.
 */
export function startServe(args, { timeout = 60_000 } = {}) {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not listen within ${timeout} ms:\n${output}`)), timeout);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /collector on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[1],
          output: () => output,
          exited,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            await exited;
          },
        });
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

/** Debian's PostgreSQL binaries, the newest version installed (or PG_BIN). */
export const PG_BIN =
  process.env.PG_BIN ??
  `/usr/lib/postgresql/${(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : ['15']).sort((a, b) => Number(b) - Number(a))[0]}/bin`;

/** Whether a PostgreSQL server can be had: SESSIONBEACON_PG_URL, or Debian's binaries to start one. */
export const postgresAvailable = () => !!process.env.SESSIONBEACON_PG_URL || existsSync(join(PG_BIN, 'pg_ctl'));

/**
 * A PostgreSQL server for tests and benchmarks: SESSIONBEACON_PG_URL when set,
 * else a new cluster in a temporary folder on 127.0.0.1 (trust auth; fsync off
 * unless `durable`, since a test's data need not survive a power cut). `url(db)`
 * names a database on it; `stop()` stops and removes what was started.
 */
export function startPostgres({ durable = false } = {}) {
  if (process.env.SESSIONBEACON_PG_URL) {
    const base = process.env.SESSIONBEACON_PG_URL;
    return { url: (database) => base.replace(/\/[^/]*$/, `/${database}`), stop() {} };
  }
  // initdb refuses to run as root: as root, run the binaries as the postgres user.
  // stdio ignored: a server started with our pipes would keep execFileSync waiting forever.
  const asPostgres = (cmd, args) =>
    process.getuid?.() === 0
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { stdio: 'ignore' })
      : execFileSync(join(PG_BIN, cmd), args, { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'sb-pg-'));
  chmodSync(dir, 0o777);
  const port = 56000 + (process.pid % 4000);
  asPostgres('initdb', ['-D', join(dir, 'data'), '--auth=trust', '-U', 'postgres', '--no-sync']);
  asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}${durable ? '' : ' -c fsync=off'}`, '-w', 'start']);
  let running = true;
  return {
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop() {
      if (!running) return;
      running = false;
      try {
        asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { createCollector } from './app';
import { exampleConfig, hashToken, newToken, readConfig, type CollectorConfig } from './config';
import { openDatabase, type Database } from './database';
import { migrate } from './migrations';

export const SERVE_USAGE = `usage: sessionbeacon serve [--port 8787] [--host 127.0.0.1] [--database <postgres URL>] [--workers N] [--data <dir>]
                          [--config <file.json>] [--static <prefix>=<dir>]... [--no-dashboard] [--quiet]

  --database URL   a PostgreSQL server (default: an embedded PGlite under --data); any number of
                   collectors may share one (docs/scaling.md)
  --workers N      run N collector processes sharing the port, one per core (needs --database)
  --data DIR       the embedded database's folder (default ./.sessionbeacon; one process only)
  --config FILE    projects, origins, read tokens, limits (docs/collector.md); without it,
                   one project (1) open to any origin, with a read token made up and printed
  --static P=DIR   also serve DIR's files under URL prefix P (npm start: examples and dist)
  --token T        without --config: use this read token instead of a new one
  --no-dashboard   do not serve the sessions page at / (it reads nothing without a token)
  --quiet          log warnings and errors only

usage: sessionbeacon token       a new read token and the hash to put in the config`;

/**
 * The built sessions page: dist/dashboard/ beside the built server (this file is
 * bundled into dist/). Run from the sources (tests), there is none.
 */
const DASHBOARD = fileURLToPath(new URL('./dashboard/', import.meta.url));
const dashboardBuilt = () => existsSync(join(DASHBOARD, 'index.html'));

export interface ServeOptions {
  port: number;
  host: string;
  database?: string;
  data: string;
  config?: string;
  token?: string;
  staticRoots: Record<string, string>;
  /** Serve the sessions page at / (default; --no-dashboard turns it off). */
  dashboard: boolean;
  quiet: boolean;
  /** Collector processes sharing the port (--workers; default 1: this process serves). */
  workers: number;
}

export function parseServeArgs(args: string[]): ServeOptions {
  const options: ServeOptions = { port: 8787, host: '127.0.0.1', data: '.sessionbeacon', staticRoots: {}, dashboard: true, quiet: false, workers: 1 };
  const value = (i: number, name: string) => {
    if (args[i] === undefined || args[i].startsWith('--')) throw new Error(`${name} needs a value`);
    return args[i];
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--port') {
      options.port = Number(value(++i, arg));
      if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new Error(`--port must be a port number`);
    } else if (arg === '--host') options.host = value(++i, arg);
    else if (arg === '--database') options.database = value(++i, arg);
    else if (arg === '--data') options.data = value(++i, arg);
    else if (arg === '--workers') {
      options.workers = Number(value(++i, arg));
      if (!Number.isInteger(options.workers) || options.workers < 1 || options.workers > 256) throw new Error('--workers must be a whole number from 1 to 256');
    }
    else if (arg === '--config') options.config = value(++i, arg);
    else if (arg === '--token') options.token = value(++i, arg);
    else if (arg === '--quiet') options.quiet = true;
    else if (arg === '--no-dashboard') options.dashboard = false;
    else if (arg === '--static') {
      const [prefix, dir] = value(++i, arg).split('=');
      if (!prefix?.startsWith('/') || !dir) throw new Error('--static takes /prefix=dir');
      options.staticRoots[prefix.endsWith('/') ? prefix : `${prefix}/`] = resolve(dir);
    } else throw new Error(`unknown option ${arg}`);
  }
  if (options.config && options.token) throw new Error('--token is for running without --config');
  if (options.workers > 1 && !options.database)
    throw new Error('--workers needs --database: the embedded database (PGlite) is one process only; several processes share a PostgreSQL server');
  return options;
}

export interface RunningCollector {
  app: FastifyInstance;
  db: Database;
  url: string;
  config: CollectorConfig;
  /** The read token made up for this run (no --config), else undefined. */
  token?: string;
  /** Whether the sessions page is served at /. */
  dashboard: boolean;
  close(): Promise<void>;
}

/** Opens the database, migrates it, and listens. */
export async function serve(options: ServeOptions): Promise<RunningCollector> {
  const token = options.config ? undefined : (options.token ?? newToken());
  const config = options.config ? readConfig(options.config) : exampleConfig(token!);
  const db = await openDatabase(options.database, resolve(options.data));
  try {
    await migrate(db);
    const dashboard = options.dashboard && dashboardBuilt() ? DASHBOARD : undefined;
    const { app } = await createCollector({ db, config, staticRoots: options.staticRoots, dashboard, logger: { level: options.quiet ? 'warn' : 'info' } });
    await app.listen({ port: options.port, host: options.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
    return {
      app,
      db,
      url,
      config,
      token,
      dashboard: !!dashboard && !options.staticRoots['/'],
      async close() {
        await app.close(); // waits for requests in flight and the writer's queue
        await db.close();
      },
    };
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}

/**
 * `sessionbeacon serve`: runs until SIGINT or SIGTERM, then closes cleanly
 * (requests in flight are answered). With `--workers N`, this process only
 * supervises N collector processes (node:cluster) that share its port.
 */
export async function serveCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  let options: ServeOptions;
  try {
    options = parseServeArgs(args);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${SERVE_USAGE}\n`);
    return 2;
  }
  if (options.workers > 1 && cluster.isPrimary) return superviseWorkers(options, args);
  let running: RunningCollector;
  try {
    running = await serve(options);
  } catch (error) {
    process.stderr.write(`sessionbeacon serve: ${(error as Error).message}\n`);
    return 1;
  }
  if (cluster.isPrimary) banner(running.url, options, running.token, running.dashboard);
  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // A worker whose supervisor is gone gets no more connections: it stops too.
    if (cluster.isWorker) process.once('disconnect', stop);
  });
  await running.close();
  // A worker's channel to its supervisor keeps it alive: let go of it to exit.
  if (cluster.isWorker && process.connected) cluster.worker?.disconnect();
  return 0;
}

function banner(url: string, options: ServeOptions, token: string | undefined, dashboard: boolean): void {
  const where = options.database ? `PostgreSQL${options.workers > 1 ? `, ${options.workers} workers` : ''}` : `PGlite in ${resolve(options.data)}`;
  process.stdout.write(`sessionbeacon collector on ${url} (${where})\n`);
  for (const [prefix, dir] of Object.entries(options.staticRoots)) process.stdout.write(`  ${url}${prefix} serves ${dir}\n`);
  if (dashboard && !token) process.stdout.write(`  sessions page: ${url}/ (with a read token)\n`);
  if (token) {
    process.stdout.write(`  project 1, any origin, read token ${token}\n`);
    if (dashboard) process.stdout.write(`  sessions page: ${url}/#token=${token}\n`);
    process.stdout.write(`  curl -H 'Authorization: Bearer ${token}' ${url}/sessions\n`);
  }
}

/** A worker that dies this soon after the last start is restarted after a pause: a crash loop does not spin. */
const RESTART_PAUSE = 1000;

/**
 * The supervisor of `--workers N`: migrates once, forks N collector processes
 * (each an ordinary member of the fleet: its own writer, pool and memory) that
 * share the port through node:cluster, prints the banner once all listen, starts
 * a new worker when one dies, and on SIGINT/SIGTERM stops them cleanly.
 */
async function superviseWorkers(options: ServeOptions, args: string[]): Promise<number> {
  try {
    const db = await openDatabase(options.database, resolve(options.data));
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
  } catch (error) {
    process.stderr.write(`sessionbeacon serve: ${(error as Error).message}\n`);
    return 1;
  }
  // Without --config every worker must accept the same made-up read token.
  const token = options.config ? undefined : (options.token ?? newToken());
  cluster.setupPrimary({ args: ['serve', ...args, ...(token && !options.token ? ['--token', token] : [])] });
  const live = new Set<Worker>();
  let listening = 0;
  let lastStart = 0;
  let stopping = false;
  let exitCode = 0;
  const fork = () => {
    lastStart = Date.now();
    live.add(cluster.fork());
  };
  let done: (code: number) => void = () => {};
  const stop = (code: number) => {
    exitCode ||= code;
    stopping = true;
    for (const worker of live) worker.process.kill('SIGTERM');
    if (!live.size) done(exitCode);
  };
  const stopped = new Promise<number>((resolveStopped) => {
    done = resolveStopped;
    cluster.on('listening', (_worker, address) => {
      if (++listening !== options.workers) return;
      const host = address.address ?? options.host;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      banner(url, options, token, options.dashboard && dashboardBuilt() && !options.staticRoots['/']);
    });
    cluster.on('exit', (worker, code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (!live.size) done(exitCode);
      } else if (listening < options.workers) {
        // A worker that cannot start (the database refused it, the port is taken): the others would fail alike.
        process.stderr.write(`sessionbeacon serve: a worker exited (${code ?? signal}) before listening\n`);
        if (live.size) stop(1);
        else done(1);
      } else {
        process.stderr.write(`sessionbeacon serve: worker ${worker.process.pid} exited (${code ?? signal}); starting another\n`);
        setTimeout(() => stopping || fork(), Math.max(0, lastStart + RESTART_PAUSE - Date.now()));
      }
    });
  });
  process.once('SIGINT', () => stop(0));
  process.once('SIGTERM', () => stop(0));
  for (let i = 0; i < options.workers; i++) fork();
  return stopped;
}

/** `sessionbeacon token`. */
export function tokenCommand(): number {
  const token = newToken();
  process.stdout.write(`token: ${token}\nconfig readTokens entry: "${hashToken(token)}"\n`);
  return 0;
}

/**
 * The command line: `sessionbeacon serve` (./collector/serve.ts), `sessionbeacon token`,
 * `sessionbeacon sessionize` (./offline/exact.ts, or ./offline/stream.ts with
 * --horizon) and `sessionbeacon resessionize` (./offline/resessionize.ts).
 *
 * sessionize reads received requests as NDJSON on stdin ({ receivedAt, ip,
 * userAgent, headers?, body } per line, body one wire-protocol batch) and writes
 * session rows as NDJSON on stdout, keyed by the atomic.session column names. Bad
 * lines are reported on stderr with their line number and skipped. A summary
 * goes to stderr.
 *
 * The collector's modules (fastify, the database drivers) load only for the
 * commands that use them: `sessionize` starts in a quarter of the time.
 */
import { parseSalt } from './sessionizer/cookieless';
import { DEFAULT_MEMORY, sessionizeExact } from './offline/exact';
import { sessionizeJobs } from './offline/jobs';
import { sessionizeStream } from './offline/stream';
import { duration, size } from './offline/units';

const USAGE = `usage: sessionbeacon sessionize [--inactivity 30m] [--memory 2GB] [--jobs N] [--horizon D] [--full-ip] [--salt DAY=HEX]... < requests.ndjson > sessions.ndjson

  Exact by default: the rows equal a batch run over the whole input (sessionize()),
  whatever the order, batching and lateness of the lines.

  --inactivity D   a visit ends after this much inactivity (default 30m)
  --memory SIZE    what the run may hold (default 2GB); past it, the requests are spilled
                   to temporary files by device (in $TMPDIR) and sessionized one file at a
                   time; the files are removed at the end, on error and on SIGINT/SIGTERM
  --jobs N         N worker threads share the devices (default 1: this thread alone); the
                   budget is shared too
  --horizon D      streaming instead, for tailing a live log: a device's rows are written
                   once it was idle this long by receivedAt (e.g. 6h), and it is forgotten;
                   its later events start it afresh (stderr counts such devices)
  --full-ip        keep whole IP addresses (default: /24 for IPv4, /48 for IPv6)
  --salt DAY=HEX   the salt of a UTC day for cookieless requests (repeatable); other days get a
                   salt made for this run, so their device IDs are not the collector's (docs/privacy.md)
  D is a number with a unit: ms, s, m, h or d. SIZE: a number with KB, MB or GB (powers of 1024).`;

export { duration, size } from './offline/units';

export interface SessionizeCliOptions {
  inactivity: number;
  /** Streaming with this horizon; undefined: exact. */
  horizon?: number;
  memory: number;
  /** Worker threads of the exact mode. */
  jobs: number;
  fullIp: boolean;
  /** Cookieless devices: UTC day -> salt (hex). */
  salts?: Record<string, string>;
}

export function parseArgs(args: string[]): { command: string; options: SessionizeCliOptions } {
  const [command, ...rest] = args;
  const options: SessionizeCliOptions = { inactivity: 30 * 60_000, memory: DEFAULT_MEMORY, jobs: 1, fullIp: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--inactivity') options.inactivity = duration(rest[++i]);
    else if (arg === '--horizon') options.horizon = duration(rest[++i]);
    else if (arg === '--memory') options.memory = size(rest[++i]);
    else if (arg === '--jobs') {
      options.jobs = Number(rest[++i]);
      if (!Number.isInteger(options.jobs) || options.jobs < 1 || options.jobs > 64) throw new Error('--jobs must be a whole number from 1 to 64');
    }
    else if (arg === '--full-ip') options.fullIp = true;
    else if (arg === '--salt') {
      const [day, hex] = parseSalt(rest[++i]);
      options.salts = { ...options.salts, [day]: hex };
    }
    else throw new Error(`unknown option ${arg}`);
  }
  if (options.horizon !== undefined && options.horizon < options.inactivity) throw new Error('--horizon must be at least --inactivity');
  return { command, options };
}

/** `sessionize`: stdin to stdout, exact or streaming; resolves with the process exit code. */
export async function sessionizeCommand(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
  options: SessionizeCliOptions,
): Promise<number> {
  const common = { inactivity: options.inactivity, fullIp: options.fullIp, salts: options.salts };
  if (options.horizon === undefined) {
    const exact = { ...common, memory: options.memory, tmpdir: process.env.TMPDIR };
    const s =
      options.jobs > 1
        ? await sessionizeJobs(input, output, errors, { ...exact, jobs: options.jobs }, new URL('./cli-worker.mjs', import.meta.url))
        : await sessionizeExact(input, output, errors, exact);
    errors.write(
      `sessionize: ${s.lines} lines (${s.bad} skipped), ${s.events} events, ${s.rows} session rows; exact` +
        (options.jobs > 1 ? ` with ${options.jobs} jobs` : '') +
        (s.spilled ? `, spilled to ${s.spilled} temporary files (removed)` : ', in memory') + '\n',
    );
    return 0;
  }
  const s = await sessionizeStream(input, output, errors, { ...common, horizon: options.horizon });
  errors.write(
    `sessionize: ${s.lines} lines (${s.bad} skipped), ${s.events} events (${s.duplicates} duplicates), ${s.rows} session rows; ` +
      `streaming with a horizon: ${s.returned} devices came back after being forgotten (their sessions may be split); ` +
      `client/server disagreements in open devices: ${s.disagreements.visitsMerged} merged, ${s.disagreements.visitsSplit} split\n`,
  );
  return 0;
}

const HELP = new Set(['--help', '-h', 'help']);

/** The usage of the other commands, from their modules (loaded only when needed). */
async function otherUsages(): Promise<string> {
  const [{ SERVE_USAGE }, { RESESSIONIZE_USAGE }] = await Promise.all([import('./collector/serve'), import('./offline/resessionize')]);
  return `${RESESSIONIZE_USAGE}\n\n${SERVE_USAGE}`;
}

export async function main(args: string[]): Promise<number> {
  // Asking for help is not a mistake: the usage goes to stdout and the exit code is 0.
  if (args.length === 1 && HELP.has(args[0])) {
    process.stdout.write(`${USAGE}\n\n${await otherUsages()}\n`);
    return 0;
  }
  if (args[0] === 'sessionize' && args.slice(1).some((a) => HELP.has(a))) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args[0] === 'resessionize') return (await import('./offline/resessionize')).resessionizeCommand(args.slice(1));
  if (args[0] === 'serve') return (await import('./collector/serve')).serveCommand(args.slice(1));
  if (args[0] === 'token') return (await import('./collector/serve')).tokenCommand();
  let parsed;
  try {
    parsed = parseArgs(args);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed.command === 'sessionize') return sessionizeCommand(process.stdin, process.stdout, process.stderr, parsed.options);
  process.stderr.write(`${parsed.command ? `unknown command ${parsed.command}` : 'no command'}\n\n${USAGE}\n\n${await otherUsages()}\n`);
  return 2;
}

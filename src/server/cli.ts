/**
 * The command line: `sessionbeacon serve` (./collector/serve.ts), `sessionbeacon token`, and
 * `sessionbeacon sessionize [--inactivity 30m] [--horizon 6h] [--full-ip] [--salt DAY=HEX]...`.
 *
 * Reads received requests as NDJSON on stdin ({ receivedAt, ip, userAgent,
 * headers?, body } per line, body one wire-protocol batch) and writes session rows
 * as NDJSON on stdout, keyed by the atomic.session column names. Streaming: a row
 * is written once its device has been idle for `--horizon` (by receivedAt), so
 * memory grows with the open devices, not with the input. Bad lines are reported
 * on stderr with their line number and skipped. A summary goes to stderr.
 */
import { createInterface } from 'node:readline';
import { serveCommand, SERVE_USAGE, tokenCommand } from './collector/serve';
import { CookielessRequests, parseSalt, saltsOf } from './sessionizer/cookieless';
import { Engine } from './sessionizer/engine';
import { storedEvents, type ReceivedRequest, type StoredEvent } from './sessionizer/request';
import type { SessionRow } from './sessionizer/row';
import { requestProblem } from './sessionizer/validate';

const USAGE = `usage: sessionbeacon sessionize [--inactivity 30m] [--horizon 6h] [--full-ip] [--salt DAY=HEX]... < requests.ndjson > sessions.ndjson

  --inactivity D   a visit ends after this much inactivity (default 30m)
  --horizon D      rows are final once their device was idle this long, by receivedAt (default 6h)
  --full-ip        keep whole IP addresses (default: /24 for IPv4, /48 for IPv6)
  --salt DAY=HEX   the salt of a UTC day for cookieless requests (repeatable); other days get a
                   salt made for this run, so their device IDs are not the collector's (docs/privacy.md)
  D is a number with a unit: ms, s, m, h or d.`;

/** "30m" -> 1 800 000. */
export function duration(text: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text ?? '');
  if (!m) throw new Error(`not a duration: ${text} (use e.g. 30m, 45s, 6h)`);
  return Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as 'ms']!;
}

export interface SessionizeCliOptions {
  inactivity: number;
  horizon: number;
  fullIp: boolean;
  /** Cookieless devices: UTC day -> salt (hex). */
  salts?: Record<string, string>;
}

export function parseArgs(args: string[]): { command: string; options: SessionizeCliOptions } {
  const [command, ...rest] = args;
  const options: SessionizeCliOptions = { inactivity: 30 * 60_000, horizon: 6 * 3_600_000, fullIp: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--inactivity') options.inactivity = duration(rest[++i]);
    else if (arg === '--horizon') options.horizon = duration(rest[++i]);
    else if (arg === '--full-ip') options.fullIp = true;
    else if (arg === '--salt') {
      const [day, hex] = parseSalt(rest[++i]);
      options.salts = { ...options.salts, [day]: hex };
    }
    else throw new Error(`unknown option ${arg}`);
  }
  if (options.horizon < options.inactivity) throw new Error('--horizon must be at least --inactivity');
  return { command, options };
}

/** Streams stdin to stdout; resolves with the process exit code. */
export async function sessionizeStream(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
  options: SessionizeCliOptions,
): Promise<number> {
  const engine = new Engine({ inactivity: options.inactivity, horizon: options.horizon, fullIp: options.fullIp });
  // Cookieless requests near midnight wait for what came before them, within the disorder the horizon allows.
  const cookieless = new CookielessRequests({ salt: saltsOf(options.salts), inactivity: options.inactivity, disorder: options.horizon - options.inactivity });
  let line = 0;
  let bad = 0;
  let written = 0;
  let pending: StoredEvent[] = [];
  const write = (rows: SessionRow[]) => {
    for (const row of rows) output.write(JSON.stringify(row) + '\n');
    written += rows.length;
  };
  // Requests are sessionized in chunks: a device's rows are rebuilt once per chunk, not once per request.
  const drain = () => {
    engine.ingestEvents(pending);
    pending = [];
    write(engine.evict());
  };
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      bad++;
      errors.write(`line ${line}: malformed JSON\n`);
      continue;
    }
    const problem = requestProblem(value);
    if (problem) {
      bad++;
      errors.write(`line ${line}: ${problem}\n`);
      continue;
    }
    for (const request of cookieless.take(value as ReceivedRequest)) pending.push(...storedEvents(request)); // checked by requestProblem
    if (pending.length >= 5000) drain();
  }
  for (const request of cookieless.flush()) pending.push(...storedEvents(request));
  drain();
  write(engine.rows());
  const d = engine.disagreements();
  errors.write(
    `sessionize: ${line} lines (${bad} skipped), ${engine.stats.events} events (${engine.stats.duplicates} duplicates), ${written} session rows; ` +
      `client/server disagreements in open devices: ${d.visitsMerged} merged, ${d.visitsSplit} split\n`,
  );
  return 0;
}

const HELP = new Set(['--help', '-h', 'help']);

export async function main(args: string[]): Promise<number> {
  // Asking for help is not a mistake: the usage goes to stdout and the exit code is 0.
  if (args.length === 1 && HELP.has(args[0])) {
    process.stdout.write(`${USAGE}\n\n${SERVE_USAGE}\n`);
    return 0;
  }
  if (args[0] === 'sessionize' && args.slice(1).some((a) => HELP.has(a))) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args[0] === 'serve') return serveCommand(args.slice(1));
  if (args[0] === 'token') return tokenCommand();
  let parsed;
  try {
    parsed = parseArgs(args);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed.command === 'sessionize') return sessionizeStream(process.stdin, process.stdout, process.stderr, parsed.options);
  process.stderr.write(`${parsed.command ? `unknown command ${parsed.command}` : 'no command'}\n\n${USAGE}\n\n${SERVE_USAGE}\n`);
  return 2;
}

import { createReadStream, unlinkSync } from 'node:fs';
import { saltsOf, type SaltOf } from '../sessionizer/cookieless';
import type { SessionizeOptions } from '../sessionizer/device';
import { sessionize } from '../sessionizer/index';
import type { ReceivedRequest } from '../sessionizer/request';
import { lineBatches, NdjsonWriter } from './lines';
import { Partitions, temporaryFolder } from './spill';
import { requestProblem } from '../sessionizer/validate';

export interface ExactOptions extends SessionizeOptions {
  /** Cookieless devices: UTC day -> salt (hex). */
  salts?: Record<string, string>;
  /** What the run may hold, in bytes (estimated: MEMORY_PER_INPUT_BYTE per byte of input held); past it, it spills to disk. */
  memory: number;
  /** Where the temporary files go (default: the system's temporary folder, $TMPDIR). */
  tmpdir?: string;
}

/** The default budget of `--memory`: some 800 MB of log (a million SDK-shaped events are 437 MB) is sessionized in memory. */
export const DEFAULT_MEMORY = 2 * 2 ** 30;

/**
 * Bytes of memory a held byte of input costs until its rows are written: the
 * parsed request, its stored events, the batch sessionizer's maps, and the
 * rows. Measured on bench/sessionizer.mjs's workload (SDK-shaped events of
 * about 440 bytes of JSON), the process's peak RSS less its 60 MB at start was
 * 2.4 times the input at 200k events and 1.9 times at 1M; rounded up.
 */
export const MEMORY_PER_INPUT_BYTE = 2.5;

/** Partitions of the first spill, and of each re-partitioning of a partition still over the budget. */
const FIRST_SPLIT = 64;
const NEXT_SPLIT = 16;
/** Levels of re-partitioning before a partition is taken whole (one device's events, which no hash can split). */
const MAX_LEVEL = 4;

export interface ExactSummary {
  lines: number;
  bad: number;
  events: number;
  rows: number;
  /** Temporary files written (0: everything fit the budget). */
  spilled: number;
}

/**
 * The requests of an exact run: held in memory within the budget; past it, in
 * partition files by device (./spill.ts). `finish` writes the rows: one
 * `sessionize()` call over what is held, or one per partition file (a file
 * still over the budget is partitioned again, with another hash). `remove`
 * deletes the files (they are deleted as they are read, and on signals too).
 */
export class ExactRun {
  private held: ReceivedRequest[] = [];
  private heldBytes = 0;
  private folder: ReturnType<typeof temporaryFolder> | undefined;
  private partitions: Partitions | undefined;
  private readonly budget: number;
  /** One salt per day for the whole run: every partition derives cookieless devices alike. */
  private readonly sessionizeOptions: SessionizeOptions & { salts: SaltOf };
  /** Temporary files written (0: everything fit the budget). */
  spilled = 0;

  constructor(private readonly options: ExactOptions, salts?: SaltOf) {
    this.budget = options.memory / MEMORY_PER_INPUT_BYTE;
    this.sessionizeOptions = { inactivity: options.inactivity, fullIp: options.fullIp, geoHeaders: options.geoHeaders, salts: salts ?? saltsOf(options.salts) };
  }

  /** Takes a request; `text` is its line (the size it costs; written as it is when spilling). */
  take(request: ReceivedRequest, text: string): void {
    if (this.partitions) return this.partitions.add(request, text);
    this.held.push(request);
    this.heldBytes += text.length;
    if (this.heldBytes > this.budget) {
      this.folder = temporaryFolder(this.options.tmpdir);
      this.partitions = new Partitions(this.folder.path, 'p', FIRST_SPLIT, 0);
      for (const r of this.held) this.partitions.add(r);
      this.held = [];
    }
  }

  async finish(writer: NdjsonWriter): Promise<void> {
    if (!this.partitions) {
      const held = this.held;
      this.held = [];
      await writer.write(sessionize(held, this.sessionizeOptions));
      return;
    }
    const { partitions, folder } = this;
    partitions.close();
    this.spilled += partitions.count;
    const work = partitions.paths.map((path, i) => ({ path, size: partitions.sizes[i], level: 1 }));
    while (work.length) {
      const { path, size, level } = work.pop()!;
      if (size > this.budget && level < MAX_LEVEL) {
        // Too big still: its devices into smaller partitions, by another hash.
        const parts = new Partitions(folder!.path, `${path.slice(folder!.path.length + 1, -'.ndjson'.length)}.${level}`, NEXT_SPLIT, level);
        for await (const lines of lineBatches(createReadStream(path))) for (const line of lines) if (line) parts.add(JSON.parse(line) as ReceivedRequest, line);
        parts.close();
        unlinkSync(path);
        this.spilled += parts.count;
        parts.paths.forEach((p, i) => work.push({ path: p, size: parts.sizes[i], level: level + 1 }));
        continue;
      }
      const requests: ReceivedRequest[] = [];
      if (size) for await (const lines of lineBatches(createReadStream(path))) for (const line of lines) if (line) requests.push(JSON.parse(line) as ReceivedRequest);
      unlinkSync(path);
      await writer.write(sessionize(requests, this.sessionizeOptions));
    }
  }

  remove(): void {
    this.folder?.remove();
  }
}

/**
 * `sessionbeacon sessionize` (the default, exact): every row equals what
 * `sessionize()` gives over the whole input, whatever the order and lateness of
 * the lines, because each row is made by `sessionize()` over all the events of
 * its device (ExactRun). With `jobs` > 1, worker threads share the devices
 * (./jobs.ts).
 */
export async function sessionizeExact(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
  options: ExactOptions,
): Promise<ExactSummary> {
  const summary: ExactSummary = { lines: 0, bad: 0, events: 0, rows: 0, spilled: 0 };
  const writer = new NdjsonWriter(output);
  const run = new ExactRun(options);
  try {
    for await (const batch of lineBatches(input))
      for (const text of batch) {
        summary.lines++;
        const request = parseLine(text, summary.lines, errors);
        if (request === undefined) continue;
        if (request === null) {
          summary.bad++;
          continue;
        }
        summary.events += request.body.events.length;
        run.take(request, text);
      }
    await run.finish(writer);
    await writer.flush();
  } finally {
    run.remove();
  }
  summary.rows = writer.written;
  summary.spilled = run.spilled;
  return summary;
}

/** A line as a request (checked by requestProblem); undefined for a blank line; null for a bad one (reported on `errors`). */
export function parseLine(text: string, line: number, errors: NodeJS.WritableStream): ReceivedRequest | null | undefined {
  if (!text || (text.charCodeAt(0) <= 32 && !text.trim())) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    errors.write(`line ${line}: malformed JSON\n`);
    return null;
  }
  const problem = requestProblem(value);
  if (problem) {
    errors.write(`line ${line}: ${problem}\n`);
    return null;
  }
  return value as ReceivedRequest;
}

import { Worker } from 'node:worker_threads';
import type { ExactOptions, ExactSummary } from './exact';
import { lineBatches } from './lines';
import { hash, temporaryFolder } from './spill';

/**
 * `sessionize --jobs N` (exact): N worker threads (./job-worker.ts) share the
 * devices, each parsing, holding (or spilling, within memory / N) and
 * sessionizing its own, while this thread reads the input and writes the rows.
 *
 * A line goes to the worker of the first deviceId found in its text by a scan
 * (no parse here); the worker parses it and checks: the parts of a request that
 * belong to another worker's devices (a request of several devices, a scan
 * misled, a cookieless request, whose device is derived) are passed on to that
 * worker, through this thread. Ownership is a hash of the device's key, so every
 * event of a device ends in one worker, and each worker's rows are those of
 * `sessionize()` over its devices: together, those of the whole.
 *
 * The end: once the input is read, every worker is told so and answers when the
 * requests it had to pass on are sent; once all have, and those were relayed,
 * each worker writes its rows.
 */
export async function sessionizeJobs(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
  options: ExactOptions & { jobs: number },
  workerFile: URL,
): Promise<ExactSummary> {
  const n = options.jobs;
  const summary: ExactSummary = { lines: 0, bad: 0, events: 0, rows: 0, spilled: 0 };
  const { jobs: _jobs, ...exact } = options;
  // The workers' partition files go in a folder of this thread's: signals come to this thread only, and it removes the folder.
  const folder = temporaryFolder(exact.tmpdir);
  const workers = Array.from({ length: n }, (_, index) => new Worker(workerFile, { workerData: { options: { ...exact, memory: exact.memory / n, tmpdir: folder.path }, index, count: n } }));
  /** Batches sent and not yet taken, per worker: the reading waits past a few, so the input is not all queued in memory. */
  const inFlight = new Array<number>(n).fill(0);
  let wake: (() => void) | undefined;
  let failed: Error | undefined;
  let passedOn = 0;
  let done = 0;
  let outputBusy: Promise<void> = Promise.resolve();
  const finished = new Promise<void>((resolve, reject) => {
    workers.forEach((worker) => {
      worker.on('message', (m: JobMessage) => {
        if (m.type === 'taken') inFlight[m.index]--;
        else if (m.type === 'pass') workers[m.to].postMessage({ type: 'lines', lines: m.lines, numbers: null });
        else if (m.type === 'error') errors.write(m.text);
        else if (m.type === 'rows') {
          worker.postMessage({ type: 'rows-taken' });
          const text = m.text;
          outputBusy = outputBusy.then(() => (output.write(text) ? undefined : new Promise<void>((r) => output.once('drain', () => r()))));
        } else if (m.type === 'passed-on') {
          // Every request this worker passes on was relayed above, before this message: when all said so, all have their events.
          if (++passedOn === n) for (const w of workers) w.postMessage({ type: 'finish' });
        } else if (m.type === 'done') {
          summary.bad += m.bad;
          summary.events += m.events;
          summary.rows += m.rows;
          summary.spilled += m.spilled;
          if (++done === n) resolve();
        }
        wake?.();
      });
      worker.on('error', (e) => {
        failed = e;
        reject(e);
        wake?.();
      });
      worker.on('exit', (code) => {
        if (code !== 0 && done < n) reject((failed ??= new Error(`a sessionize worker exited with code ${code}`)));
      });
    });
  });
  finished.catch(() => {});
  try {
    const lines: string[][] = workers.map(() => []);
    const numbers: number[][] = workers.map(() => []);
    for await (const batch of lineBatches(input)) {
      for (const text of batch) {
        summary.lines++;
        const key = scanDevice(text);
        const to = key === undefined ? summary.lines % n : hash(key, JOBS_SEED) % n;
        lines[to].push(text);
        numbers[to].push(summary.lines);
      }
      for (let i = 0; i < n; i++)
        if (lines[i].length >= 256) {
          workers[i].postMessage({ type: 'lines', lines: lines[i], numbers: numbers[i] });
          inFlight[i]++;
          lines[i] = [];
          numbers[i] = [];
        }
      while (!failed && inFlight.some((k) => k > 4)) await new Promise<void>((r) => (wake = r));
      if (failed) throw failed;
    }
    for (let i = 0; i < n; i++) if (lines[i].length) workers[i].postMessage({ type: 'lines', lines: lines[i], numbers: numbers[i] });
    for (const w of workers) w.postMessage({ type: 'end' });
    await finished;
    await outputBusy;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    folder.remove();
  }
  return summary;
}

/** The seed of the hash that gives a device its worker: another than the partition files' (./spill.ts), which split within a worker. */
export const JOBS_SEED = 0x9e3779b9;

/**
 * The first `"deviceId":"...` of a line, as the worker it likely belongs to:
 * a guess the worker checks (its parse decides), never trusted.
 */
function scanDevice(text: string): string | undefined {
  const at = text.indexOf('"deviceId":"');
  if (at < 0) return undefined;
  const end = text.indexOf('"', at + 12);
  if (end < 0) return undefined;
  const id = text.slice(at + 12, end);
  return id.includes('\\') ? undefined : id;
}

/** What a worker tells this thread. */
export type JobMessage =
  | { type: 'taken'; index: number }
  | { type: 'pass'; to: number; lines: string[] }
  | { type: 'error'; text: string }
  | { type: 'rows'; text: string }
  | { type: 'passed-on' }
  | { type: 'done'; bad: number; events: number; rows: number; spilled: number };

/**
 * A worker thread of `sessionize --jobs N` (./jobs.ts): it takes the lines sent
 * to it, keeps the requests (or parts of requests) of its own devices in an
 * ExactRun, passes the others on to their worker, and at the end writes the
 * rows of its devices back to the main thread, which writes them out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ReceivedRequest } from '../sessionizer/request';
import { ExactRun, parseLine, type ExactOptions } from './exact';
import { JOBS_SEED } from './jobs';
import { NdjsonWriter } from './lines';
import { devicesOf, hash } from './spill';

const { options, index, count } = workerData as { options: ExactOptions; index: number; count: number };
const port = parentPort!;
const run = new ExactRun(options);
let bad = 0;
let events = 0;
/** Rows sent and not yet written out by the main thread: this worker waits past a few (the main thread's memory). */
let rowsInFlight = 0;
let rowsTaken: (() => void) | undefined;

/** The errors of a parse, as the main thread writes them. */
const errors = { write: (text: string) => (port.postMessage({ type: 'error', text }), true) } as unknown as NodeJS.WritableStream;
/** Rows in chunks of about 1 MiB to the main thread. */
const rowsOut = {
  write(text: string) {
    rowsInFlight++;
    port.postMessage({ type: 'rows', text });
    return rowsInFlight < 8;
  },
  once(event: string, listener: () => void) {
    if (event === 'drain') rowsTaken = listener;
  },
  // A port cannot fail as a pipe can (NdjsonWriter listens for 'error'): nothing to listen to.
  on() {},
  off() {},
} as unknown as NodeJS.WritableStream;

function take(request: ReceivedRequest, text: string, passOn: Map<number, string[]>): void {
  const parts = devicesOf(request);
  if (parts.length === 1) {
    const owner = ownerOf(parts[0][0], request);
    if (owner === index) return run.take(request, text);
    return void (passOn.get(owner) ?? passOn.set(owner, []).get(owner)!).push(text);
  }
  for (const [key, part] of parts) {
    const owner = ownerOf(key, part);
    const line = JSON.stringify(part);
    if (owner === index) run.take(part, line);
    else (passOn.get(owner) ?? passOn.set(owner, []).get(owner)!).push(line);
  }
}

/** The worker of a device: a hash of its deviceId (or of a cookieless request's key), as the main thread's scan guesses it. */
function ownerOf(key: string, request: ReceivedRequest): number {
  if (request.body.cookieless === true) return hash(key, JOBS_SEED) % count;
  return hash(key.slice(key.indexOf('\u0000') + 1), JOBS_SEED) % count;
}

port.on('message', async (m: { type: 'lines'; lines: string[]; numbers: number[] | null } | { type: 'end' } | { type: 'finish' } | { type: 'rows-taken' }) => {
  if (m.type === 'rows-taken') {
    rowsInFlight--;
    if (rowsInFlight < 8 && rowsTaken) {
      const wake = rowsTaken;
      rowsTaken = undefined;
      wake();
    }
  } else if (m.type === 'lines') {
    const passOn = new Map<number, string[]>();
    for (let i = 0; i < m.lines.length; i++) {
      const text = m.lines[i];
      if (m.numbers === null) {
        // Passed on by another worker, which checked it.
        take(JSON.parse(text) as ReceivedRequest, text, passOn);
        continue;
      }
      const request = parseLine(text, m.numbers[i], errors);
      if (request === undefined) continue;
      if (request === null) {
        bad++;
        continue;
      }
      events += request.body.events.length;
      take(request, text, passOn);
    }
    for (const [to, lines] of passOn) port.postMessage({ type: 'pass', to, lines });
    if (m.numbers !== null) port.postMessage({ type: 'taken', index });
  } else if (m.type === 'end') port.postMessage({ type: 'passed-on' });
  else if (m.type === 'finish') {
    const writer = new NdjsonWriter(rowsOut);
    try {
      await run.finish(writer);
      await writer.flush();
    } finally {
      run.remove();
    }
    port.postMessage({ type: 'done', bad, events, rows: writer.written, spilled: run.spilled });
  }
});

import { CookielessRequests, saltsOf } from '../sessionizer/cookieless';
import type { SessionizeOptions } from '../sessionizer/device';
import { Engine } from '../sessionizer/engine';
import { partitionKey, storedEvents, type StoredEvent } from '../sessionizer/request';
import { lineBatches, NdjsonWriter } from './lines';
import { requestProblem } from '../sessionizer/validate';
import type { ReceivedRequest } from '../sessionizer/request';

export interface StreamOptions extends SessionizeOptions {
  /** A device idle this long (by receivedAt) is forgotten and its rows written. */
  horizon: number;
  salts?: Record<string, string>;
}

export interface StreamSummary {
  lines: number;
  bad: number;
  events: number;
  duplicates: number;
  rows: number;
  /** Devices that had events again after being forgotten: their visits may be split where the batch run's are not. */
  returned: number;
  disagreements: { visitsMerged: number; visitsSplit: number };
}

/**
 * `sessionbeacon sessionize --horizon D`: for tailing a live log. A row is
 * written once its device has been idle for the horizon, by receivedAt, so
 * memory grows with the open devices, not with the input. A device's events
 * that come later than that start it afresh: its rows may then differ from a
 * batch run's, and the summary counts such devices (`returned`).
 */
export async function sessionizeStream(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
  options: StreamOptions,
): Promise<StreamSummary> {
  // Every device ever opened, to tell a new device from one that comes back (a key per device, not per event).
  const opened = new Set<string>();
  let returned = 0;
  const engine = new Engine({
    inactivity: options.inactivity,
    horizon: options.horizon,
    fullIp: options.fullIp,
    geoHeaders: options.geoHeaders,
    reload: (projectId, deviceId) => {
      const key = partitionKey(projectId, deviceId);
      if (opened.has(key)) returned++;
      else opened.add(key);
      return [];
    },
  });
  // Cookieless requests near midnight wait for what came before them, within the disorder the horizon allows.
  const cookieless = new CookielessRequests({ salt: saltsOf(options.salts), inactivity: options.inactivity ?? 30 * 60_000, disorder: options.horizon - (options.inactivity ?? 30 * 60_000) });
  const writer = new NdjsonWriter(output);
  let line = 0;
  let bad = 0;
  let pending: StoredEvent[] = [];
  // Requests are sessionized in chunks: a device's rows are rebuilt once per chunk, not once per request.
  const drain = async () => {
    engine.ingestEvents(pending);
    pending = [];
    await writer.write(engine.evict());
    await writer.flush();
  };
  for await (const batch of lineBatches(input)) {
    for (const text of batch) {
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
      for (const request of cookieless.take(value as ReceivedRequest)) for (const e of storedEvents(request)) pending.push(e);
      if (pending.length >= 5000) await drain();
    }
    // And at the end of a chunk read with a few hundred events: a slow log's rows are not held back for long.
    if (pending.length >= 500) await drain();
  }
  for (const request of cookieless.flush()) for (const e of storedEvents(request)) pending.push(e);
  await drain();
  await writer.write(engine.rows());
  await writer.flush();
  return { lines: line, bad, events: engine.stats.events, duplicates: engine.stats.duplicates, rows: writer.written, returned, disagreements: engine.disagreements() };
}

import { resolve } from 'node:path';
import { readConfig } from '../collector/config';
import { openDatabase, type Database } from '../collector/database';
import { geoHeadersOf } from '../collector/headers';
import { migrate } from '../collector/migrations';
import { applyChanges, claimDevices } from '../collector/store';
import type { GeoHeaders } from '../sessionizer/columns';
import { DEFAULT_INACTIVITY, sessionizeDevice } from '../sessionizer/device';
import type { Change } from '../sessionizer/engine';
import { partitionKey } from '../sessionizer/request';
import { duration } from './units';

export const RESESSIONIZE_USAGE = `usage: sessionbeacon resessionize [--database <postgres URL> | --data <dir>] [--project N] [--inactivity 30m]
                                 [--config <file.json>] [--batch 500]

  Rebuilds atomic.session from atomic.events (after a rule change, or to repair): each
  device's rows are made again by the sessionizer from all its stored events, in one
  transaction per batch of devices, which holds those devices as a collector's write
  does (running collectors take turns with it). Progress on stderr.
  --database URL   a PostgreSQL server; else the embedded database under --data
  --data DIR       the embedded database's folder (default ./.sessionbeacon)
  --project N      only this project (default: every project with events)
  --inactivity D   the visit timeout (default: the config's, else 30m); give the collector the same
  --config FILE    the collector's config: its inactivity and its geo headers
  --batch N        devices per transaction (default 500)`;

/** The device column of atomic.session: varchar(37), a longer deviceId is cut (docs/sessionizer.md). */
const DEVICE_COLUMN = 37;

export interface ResessionizeOptions {
  project?: number;
  inactivity?: number;
  geoHeaders?: GeoHeaders;
  /** Devices per transaction. */
  batch?: number;
  /** Progress lines go here. */
  progress?: (line: string) => void;
}

export interface ResessionizeSummary {
  projects: number;
  devices: number;
  events: number;
  rows: number;
  /** Rows deleted whose device has no stored event (nothing to rebuild them from). */
  orphans: number;
}

/**
 * Rebuilds atomic.session from atomic.events: for each project, its devices in
 * batches; per batch, one transaction claims the devices (atomic.claim_devices,
 * as a collector's write does: their atomic.devices rows locked until commit,
 * their versions bumped, so a collector holding them in memory reads them again),
 * which also reads all their events; their rows are deleted and made again by
 * `sessionizeDevice`, the code the collector's engine runs. The rows are then
 * those a collector with the same rules (inactivity, geo headers; IPs are stored
 * already cut) writes for the same events.
 */
export async function resessionize(db: Database, options: ResessionizeOptions = {}): Promise<ResessionizeSummary> {
  const batch = options.batch ?? 500;
  const sessionizeOptions = { inactivity: options.inactivity ?? DEFAULT_INACTIVITY, fullIp: true, geoHeaders: options.geoHeaders };
  const summary: ResessionizeSummary = { projects: 0, devices: 0, events: 0, rows: 0, orphans: 0 };
  const projects =
    options.project !== undefined
      ? [options.project]
      : (await db.query<{ projectId: number }>(`SELECT DISTINCT "projectId" FROM atomic.events ORDER BY 1`)).rows.map((r) => r.projectId);
  for (const projectId of projects) {
    summary.projects++;
    const started = performance.now();
    const devices = (
      await db.query<{ deviceId: string }>(`SELECT DISTINCT "deviceId" FROM atomic.events WHERE "projectId" = $1 ORDER BY 1`, [projectId])
    )
      .rows.map((r) => r.deviceId)
      // In code-unit order, whatever the database's collation (one that ignores punctuation could put
      // another device between two sharing a prefix, and batches() relies on them being neighbours).
      .sort();
    let done = 0;
    let events = 0;
    let rows = 0;
    for (const group of batches(devices, batch)) {
      const counts = await db.transaction(async (tx) => {
        const claimed = await claimDevices(tx, group.map((deviceId) => ({ projectId, deviceId, held: -1 })));
        const changes: Change[] = [];
        let n = 0;
        for (const deviceId of group) {
          const stored = claimed.get(partitionKey(projectId, deviceId))?.missing ?? [];
          n += stored.length;
          for (const row of sessionizeDevice(stored, sessionizeOptions).rows) changes.push({ op: 'upsert', row });
        }
        const cut = [...new Set(group.map((d) => [...d].slice(0, DEVICE_COLUMN).join('')))];
        await tx.query(`DELETE FROM atomic.session WHERE "projectId" = $1 AND "deviceId" = ANY($2::text[])`, [projectId, cut]);
        await applyChanges(tx, changes);
        return { events: n, rows: changes.length };
      });
      done += group.length;
      events += counts.events;
      rows += counts.rows;
      const seconds = (performance.now() - started) / 1000;
      options.progress?.(
        `project ${projectId}: ${done}/${devices.length} devices, ${events} events, ${rows} rows (${Math.round(events / Math.max(seconds, 1e-3))} events/s)`,
      );
    }
    // Rows of devices without any stored event (deleted events, a row written by hand): nothing makes them.
    const { rows: gone } = await db.query<{ n: number }>(
      `WITH d AS (DELETE FROM atomic.session s WHERE s."projectId" = $1 AND NOT EXISTS (
         SELECT 1 FROM atomic.events e WHERE e."projectId" = s."projectId" AND left(e."deviceId", ${DEVICE_COLUMN}) = s."deviceId")
       RETURNING 1) SELECT count(*)::int AS n FROM d`,
      [projectId],
    );
    summary.orphans += gone[0]?.n ?? 0;
    summary.devices += devices.length;
    summary.events += events;
    summary.rows += rows;
  }
  return summary;
}

/**
 * Devices in groups of about `size`, never parting two whose deviceIds share
 * the first 37 characters: their rows are deleted by that cut, so they are
 * rebuilt in one transaction.
 */
function* batches(devices: string[], size: number): Generator<string[]> {
  let group: string[] = [];
  const prefix = (d: string) => [...d].slice(0, DEVICE_COLUMN).join('');
  for (const d of devices) {
    if (group.length >= size && prefix(group[group.length - 1]) !== prefix(d)) {
      yield group;
      group = [];
    }
    group.push(d);
  }
  if (group.length) yield group;
}

/** `sessionbeacon resessionize ...`: resolves with the exit code. */
export async function resessionizeCommand(args: string[]): Promise<number> {
  let database: string | undefined;
  let data = '.sessionbeacon';
  const options: ResessionizeOptions = { progress: (line) => process.stderr.write(`resessionize: ${line}\n`) };
  let inactivity: number | undefined;
  let config: string | undefined;
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      const value = () => {
        const v = args[++i];
        if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value`);
        return v;
      };
      if (arg === '--help' || arg === '-h') {
        process.stdout.write(`${RESESSIONIZE_USAGE}\n`);
        return 0;
      } else if (arg === '--database') database = value();
      else if (arg === '--data') data = value();
      else if (arg === '--project') {
        options.project = Number(value());
        if (!Number.isInteger(options.project)) throw new Error('--project must be a project number');
      } else if (arg === '--inactivity') inactivity = duration(value());
      else if (arg === '--config') config = value();
      else if (arg === '--batch') {
        options.batch = Number(value());
        if (!Number.isInteger(options.batch) || options.batch < 1) throw new Error('--batch must be a whole number of devices');
      } else throw new Error(`unknown option ${arg}`);
    }
    if (config) {
      const c = readConfig(config);
      options.geoHeaders = geoHeadersOf(c.geoHeaders);
      options.inactivity = c.inactivity;
    }
    if (inactivity !== undefined) options.inactivity = inactivity;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${RESESSIONIZE_USAGE}\n`);
    return 2;
  }
  let db: Database;
  try {
    db = await openDatabase(database, resolve(data));
  } catch (e) {
    process.stderr.write(`resessionize: cannot open the database: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    await migrate(db);
    const s = await resessionize(db, options);
    process.stderr.write(`resessionize: ${s.projects} projects, ${s.devices} devices, ${s.events} events, ${s.rows} session rows written, ${s.orphans} rows without events deleted\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`resessionize: ${(e as Error).message} (the batch in progress was rolled back; the batches before it are committed)\n`);
    return 1;
  } finally {
    await db.close();
  }
}

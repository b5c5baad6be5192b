import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * One process at a time on an embedded database's folder: PGlite is PostgreSQL
 * in one process, with no shared memory or locks between processes, so a second
 * one on the same files would corrupt them (docs/collector.md). The holder writes
 * `sessionbeacon.lock` (its pid, host and a nonce) with O_EXCL; a later process
 * refuses to start while that holder lives, and takes a stale lock over (a holder
 * killed by SIGKILL leaves its file behind). Like PostgreSQL's postmaster.pid,
 * which PGlite writes but does not check.
 *
 * Alive means: on this host, its pid exists (`kill(pid, 0)`); on another host
 * (a shared volume), its file was touched within STALE_MS (the holder touches it
 * every HEARTBEAT_MS).
 */

export const LOCK_FILE = 'sessionbeacon.lock';
const HEARTBEAT_MS = 10_000;
const STALE_MS = 30_000;

/** Folders this process holds: a second open in the same process is refused too. */
const heldHere = new Set<string>();

interface Holder {
  pid: number;
  host: string;
  nonce: string;
}

export interface FolderLock {
  /** Removes the lock file if it is still this holder's. */
  release(): void;
}

export class FolderInUse extends Error {}

/** Locks `dir` (which must exist) for this process, or throws FolderInUse naming the holder. */
export function lockFolder(dir: string): FolderLock {
  const path = join(dir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), nonce: randomUUID() } satisfies Holder);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (create(path, mine)) return held(path, mine);
    const seen = readIfThere(path);
    if (seen === undefined) continue;
    const holder = parse(seen);
    if (holder && alive(holder, path)) throw inUse(dir, holder);
    // Stale. Moved aside, then checked: if a starter racing with this one replaced
    // the stale file meanwhile, what moved is its live lock, and it is put back.
    const aside = `${path}.${process.pid}.stale`;
    try {
      renameSync(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = readIfThere(aside);
    if (moved !== seen) {
      try {
        linkSync(aside, path);
      } catch {
        // Someone made a new one meanwhile: theirs stands.
      }
      unlinkSync(aside);
      throw inUse(dir, (moved && parse(moved)) || holder);
    }
    unlinkSync(aside);
  }
  throw new FolderInUse(`${dir}: could not take ${LOCK_FILE} (other processes keep starting on it)`);
}

/**
 * Creates the lock file whole, or returns false if one exists: written beside it
 * and hard-linked into place, so nobody ever reads a half-written lock (a file
 * system without hard links gets O_EXCL instead).
 */
function create(path: string, mine: string): boolean {
  const draft = `${path}.${process.pid}.new`;
  writeFileSync(draft, mine);
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    try {
      writeFileSync(path, mine, { flag: 'wx' });
      return true;
    } catch (exclusive) {
      if ((exclusive as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw exclusive;
    }
  } finally {
    unlinkSync(draft);
  }
}

function held(path: string, mine: string): FolderLock {
  heldHere.add(path);
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // The folder went away: nothing to keep fresh.
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      heldHere.delete(path);
      if (readIfThere(path) === mine) unlinkSync(path);
    },
  };
}

function alive(holder: Holder, path: string): boolean {
  if (holder.host !== hostname()) {
    try {
      return Date.now() - statSync(path).mtimeMs < STALE_MS;
    } catch {
      return false;
    }
  }
  // This pid in the file but not held here: an earlier process with the same pid (a container restarted).
  if (holder.pid === process.pid) return heldHere.has(path);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

function inUse(dir: string, holder: Holder | undefined): FolderInUse {
  const who = holder ? `process ${holder.pid} on ${holder.host}` : 'another process';
  return new FolderInUse(
    `the embedded database in ${dir} is in use by ${who}. PGlite is one process only: stop that one, ` +
      `or run several collectors on a PostgreSQL server (--database; docs/scaling.md). ` +
      `If that process is gone, delete ${join(dir, LOCK_FILE)}.`,
  );
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parse(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Holder;
    return Number.isInteger(value.pid) && typeof value.host === 'string' ? value : undefined;
  } catch {
    return undefined; // not a lock this code wrote (locks are created whole): stale
  }
}

// @vitest-environment node
// The embedded database is one process only (docs/collector.md): a second
// `sessionbeacon serve` on the same folder is refused at start with a clear
// message and changes nothing; a folder whose holder was SIGKILLed is taken
// over; the lock itself (folder-lock.ts) for the cases a test can make.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { openPGlite } from '../src/server';
import { FolderInUse, LOCK_FILE, lockFolder } from '../src/server/collector/folder-lock';
import { startServe } from './support/processes.mjs';

const root = mkdtempSync(join(tmpdir(), 'sb-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const folder = () => {
  const dir = join(root, `f${n++}`);
  mkdirSync(dir);
  return dir;
};
/** A pid no process has: a short-lived child's, after it exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('one process per embedded database', () => {
  it('a second serve on the same --data is refused at start with a clear message; after a SIGKILL the folder is taken over, data intact', async () => {
    const data = join(root, 'served');
    const first = await startServe(['--data', data, '--token', 'lock', '--quiet'], { timeout: 120_000 });
    const body = JSON.stringify({ v: 1, projectId: 1, sentAt: Date.now(), events: [{ id: 'kept', type: 'track', name: 'x', ts: Date.now(), seq: 0, deviceId: 'd', anonymousId: 'a', visitId: 'v', sessionId: 's', tabId: 't', pageId: 'p' }] });
    expect((await fetch(`${first.url}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body })).status).toBe(200);

    const second = startServe(['--data', data, '--token', 'lock', '--quiet'], { timeout: 120_000 });
    await expect(second).rejects.toThrow(/exited \(1\) before listening/);
    const message = await second.catch((e: Error) => e.message);
    expect(message).toContain(`the embedded database in ${data} is in use by process ${first.child.pid} on ${hostname()}`);
    expect(message).toMatch(/PGlite is one process only.*--database/);
    // The first one never noticed.
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);

    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(join(data, LOCK_FILE))).toBe(true); // left behind
    const third = await startServe(['--data', data, '--token', 'lock', '--quiet'], { timeout: 120_000 });
    const sessions = await fetch(`${third.url}/sessions?from=0`, { headers: { authorization: 'Bearer lock' } });
    expect(((await sessions.json()) as { sessions: unknown[] }).sessions).toHaveLength(1);
    await third.stop();
    expect(third.child.exitCode).toBe(0);
    expect(existsSync(join(data, LOCK_FILE))).toBe(false); // a clean stop lets go
  }, 300_000);

  it('a second open in the same process is refused too, and allowed once the first is closed', async () => {
    const dir = folder();
    const db = await openPGlite(dir);
    await expect(openPGlite(dir)).rejects.toThrow(FolderInUse);
    await db.close();
    const again = await openPGlite(dir);
    await again.close();
  }, 60_000);

  it('takes over a lock whose process is gone, or that is not a lock', () => {
    for (const stale of [JSON.stringify({ pid: deadPid(), host: hostname(), nonce: 'x' }), '', 'garbage']) {
      const dir = folder();
      writeFileSync(join(dir, LOCK_FILE), stale);
      lockFolder(dir).release();
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    }
  });

  it('refuses while the holder lives: on this host its pid; on another host (a shared volume) a file touched within 30 s', () => {
    const live = folder();
    writeFileSync(join(live, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), nonce: 'x' }));
    expect(() => lockFolder(live)).toThrow(new RegExp(`in use by process ${process.ppid}`));

    const remote = folder();
    writeFileSync(join(remote, LOCK_FILE), JSON.stringify({ pid: 1, host: 'another-host', nonce: 'x' }));
    expect(() => lockFolder(remote)).toThrow(/in use by process 1 on another-host/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(remote, LOCK_FILE), old, old);
    lockFolder(remote).release();
  });

  it('a lock with this process\'s pid that this process does not hold is stale (a restarted container gets the same pid)', () => {
    const dir = folder();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'earlier' }));
    const lock = lockFolder(dir);
    expect(() => lockFolder(dir)).toThrow(FolderInUse);
    lock.release();
  });
});

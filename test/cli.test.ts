// @vitest-environment node
// The command line as users run it: `sessionbeacon sessionize` (after npm run build).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { rowKey, sessionize, type ReceivedRequest, type SessionRow } from '../src/server/sessionizer';
import { duration, parseArgs, size } from '../src/server/cli';
import { ev, MIN, req, T0 } from './sessionizer.helpers';
import { CLI } from './support/processes.mjs';

function run(args: string[], input: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.end(input.join('\n') + '\n');
  });
}

const byKey = (rows: SessionRow[]) => [...rows].sort((a, b) => rowKey(a).localeCompare(rowKey(b)));

describe('sessionbeacon sessionize', () => {
  it('writes the same rows as the batch sessionizer, one per line', async () => {
    const requests: ReceivedRequest[] = [];
    for (let d = 0; d < 20; d++)
      for (let k = 0; k < 6; k++) requests.push(req([ev(T0 + d * 1000 + k * 20 * MIN, { deviceId: `dev${d}`, tabId: `t${k % 2}` })]));
    const { code, out, err } = await run(['sessionize', '--inactivity', '30m'], requests.map((r) => JSON.stringify(r)));
    expect(code).toBe(0);
    const rows = out.trim().split('\n').map((l) => JSON.parse(l) as SessionRow);
    expect(byKey(rows)).toEqual(byKey(sessionize(requests)));
    expect(err).toMatch(/120 lines \(0 skipped\), 120 events/);
  });

  it('reports bad lines with their number on stderr, skips them, and goes on', async () => {
    const good = JSON.stringify(req([ev(T0)]));
    const { code, out, err } = await run(['sessionize'], [
      good,
      '{not json',
      JSON.stringify({ receivedAt: 'yesterday', body: {} }),
      JSON.stringify({ receivedAt: T0, body: { v: 1, sentAt: T0, events: [{ id: 'x', type: 7, ts: T0, seq: 0 }] } }),
      '',
      '[1,2,3]',
      good.replace('"dev1"', '""'),
    ]);
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(err).toContain('line 2: malformed JSON');
    expect(err).toContain('line 3: receivedAt must be a number');
    expect(err).toContain('line 4: body.events[0].type must be a string');
    expect(err).toContain('line 6: not a JSON object');
    expect(err).toContain('line 7: body.events[0].deviceId must be a non-empty string');
  });

  it('streams: a device idle for the horizon has its row written before the input ends', async () => {
    const child = spawn(process.execPath, [CLI, 'sessionize', '--horizon', '1h']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.write(JSON.stringify(req([ev(T0, { deviceId: 'early' })])) + '\n');
    // Then two hours of another device's traffic, enough events for a chunk to be processed.
    for (let i = 0; i < 6; i++) {
      const at = T0 + 2 * 3_600_000 + i * 1000;
      child.stdin.write(JSON.stringify(req(Array.from({ length: 1000 }, (_, k) => ev(at + k, { deviceId: 'busy' })))) + '\n');
    }
    await expect.poll(() => out.includes('"deviceId":"early"'), { timeout: 10_000 }).toBe(true);
    expect(out).not.toContain('"deviceId":"busy"'); // still open
    child.stdin.end();
    await new Promise((r) => child.on('close', r));
    expect(out).toContain('"deviceId":"busy"');
  });

  it('refuses unknown commands and options with the usage and exit code 2', async () => {
    for (const args of [[], ['serve-everything'], ['sessionize', '--inactivity', 'soon'], ['sessionize', '--horizon', '1m']]) {
      const { code, err } = await run(args, []);
      expect(code).toBe(2);
      expect(err).toContain('usage: sessionbeacon sessionize');
    }
  }, 30_000); // four processes, one after the other: over 5 s on a loaded machine

  it('prints the usage on stdout and exits 0 when asked for help', async () => {
    for (const [args, usage] of [[['--help'], 'usage: sessionbeacon serve'], [['-h'], 'usage: sessionbeacon sessionize'], [['serve', '--help'], 'usage: sessionbeacon serve'], [['sessionize', '--help'], 'usage: sessionbeacon sessionize']] as const) {
      const { code, out, err } = await run([...args], []);
      expect({ args, code, err }).toEqual({ args, code: 0, err: '' });
      expect(out).toContain(usage);
    }
  });

  it('reads durations', () => {
    expect(duration('30m')).toBe(30 * MIN);
    expect(duration('1.5h')).toBe(90 * MIN);
    expect(duration('250ms')).toBe(250);
    expect(() => duration('30')).toThrow();
    expect(parseArgs(['sessionize', '--full-ip']).options.fullIp).toBe(true);
  });

  it('reads sizes, and is exact unless given a horizon', () => {
    expect(size('256MB')).toBe(256 * 2 ** 20);
    expect(size('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(size('16kb')).toBe(16 * 1024);
    expect(() => size('lots')).toThrow();
    expect(parseArgs(['sessionize']).options.horizon).toBeUndefined();
    expect(parseArgs(['sessionize', '--memory', '64MB']).options.memory).toBe(64 * 2 ** 20);
    expect(parseArgs(['sessionize', '--horizon', '6h']).options.horizon).toBe(6 * 3_600_000);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createVisit, decodeVisit, encodeVisit, VISIT_KEY } from '../src/client/visit';
import { idSequence, memoryArea, serialLocks } from './helpers';

const MIN = 60_000;
const TIMEOUT = 30 * MIN;
const T0 = Date.UTC(2026, 10, 22, 12);

function shared() {
  return { local: memoryArea(), cookie: memoryArea() };
}

describe('visit', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('keeps the visit at 29:59.999 of inactivity and rotates at 30:00.000', () => {
    const areas = shared();
    const visit = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, idSequence('v'), () => Date.now());
    const first = visit.touchNow(T0);
    expect(visit.touch(T0 + TIMEOUT - 1)).toMatchObject({ visitId: first.visitId, last: T0 + TIMEOUT - 1 });
    const second = visit.touch(T0 + TIMEOUT - 1 + TIMEOUT) as { visitId: string };
    expect(second.visitId).not.toBe(first.visitId);
    expect(visit.touch(T0 + 2 * TIMEOUT - 1 + TIMEOUT - 1)).toMatchObject({ visitId: second.visitId });
  });

  it('honours a configured timeout', () => {
    const visit = createVisit(shared(), { timeout: 5 * MIN, writeEvery: 5000 }, idSequence('v'), () => Date.now());
    const first = visit.touchNow(T0);
    expect((visit.touch(T0 + 5 * MIN - 1) as { visitId: string }).visitId).toBe(first.visitId);
    expect((visit.touch(T0 + 10 * MIN - 2) as { visitId: string }).visitId).toBe(first.visitId);
    expect((visit.touch(T0 + 15 * MIN - 2) as { visitId: string }).visitId).not.toBe(first.visitId);
  });

  it('throttles storage writes while active, and the trailing write stores the exact last activity', () => {
    const areas = shared();
    const visit = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, idSequence('v'), () => Date.now());
    visit.touchNow(Date.now());
    const writes = areas.local.writes;
    // 100 mouse moves over one second: no write at all.
    for (let i = 1; i <= 100; i++) {
      vi.setSystemTime(T0 + i * 10);
      visit.touch(Date.now());
    }
    expect(areas.local.writes).toBe(writes);
    vi.advanceTimersByTime(5000);
    expect(areas.local.writes).toBe(writes + 1);
    expect(decodeVisit(areas.local.get(VISIT_KEY))!.last).toBe(T0 + 1000);
  });

  it('writes a pending activity at once when flushed (the page is being hidden)', () => {
    const areas = shared();
    const visit = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, idSequence('v'), () => Date.now());
    visit.touchNow(T0);
    vi.setSystemTime(T0 + 1234);
    visit.touch(T0 + 1234);
    visit.flush();
    expect(decodeVisit(areas.local.get(VISIT_KEY))!.last).toBe(T0 + 1234);
  });

  it("keeps the visit alive through another tab's activity", () => {
    const areas = shared();
    const ids = idSequence('v');
    const a = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now());
    const b = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now());
    const v = a.touchNow(T0);
    b.touchNow(T0 + 20 * MIN); // tab B active 20 minutes later
    // Tab A wakes 40 minutes after its own last activity, 20 after B's: same visit.
    expect(a.touchNow(T0 + 40 * MIN).visitId).toBe(v.visitId);
  });

  it("never moves another tab's stored last activity back", () => {
    const areas = shared();
    const ids = idSequence('v');
    const a = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now());
    const b = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now());
    a.touchNow(T0);
    b.touchNow(T0 + 3000);
    a.writeBack(); // A's memory says T0
    expect(decodeVisit(areas.local.get(VISIT_KEY))!.last).toBe(T0 + 3000);
  });

  it('two tabs waking after the timeout agree on one new visitId under Web Locks', async () => {
    const areas = shared();
    const ids = idSequence('v');
    const locks = serialLocks();
    const a = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now(), locks);
    const b = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now(), locks);
    const old = a.touchNow(T0);
    b.touchNow(T0 + 1);
    const wake = T0 + 45 * MIN;
    const [va, vb] = await Promise.all([a.touch(wake), b.touch(wake + 5)]);
    expect(locks.requests).toBe(2);
    expect(va.visitId).not.toBe(old.visitId);
    expect(vb.visitId).toBe(va.visitId);
  });

  it('without Web Locks, a tab waking after another adopts its new visit (re-read before write)', () => {
    const areas = shared();
    const ids = idSequence('v');
    const a = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now());
    const b = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now());
    a.touchNow(T0);
    b.touchNow(T0);
    const va = a.touch(T0 + 45 * MIN) as { visitId: string };
    const vb = b.touch(T0 + 45 * MIN + 1) as { visitId: string };
    expect(vb.visitId).toBe(va.visitId);
  });

  it('without Web Locks, two tabs that rotated in the same instant converge at the next write', () => {
    const areas = shared();
    const ids = idSequence('v');
    const tabA = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now());
    const tabB = createVisit(areas, { timeout: TIMEOUT, writeEvery: 5000 }, ids, () => Date.now());
    // Both decided before either wrote: simulate by rotating from empty storage, then B writes last.
    const va = tabA.touchNow(T0);
    areas.local.del(VISIT_KEY);
    areas.cookie.del(VISIT_KEY);
    const vb = tabB.touchNow(T0);
    expect(vb.visitId).not.toBe(va.visitId);
    tabA.writeBack();
    expect(tabA.current!.visitId).toBe(vb.visitId);
  });

  it('ignores stored values that are not visit records', () => {
    expect(decodeVisit('x:1')).toBeUndefined();
    expect(decodeVisit('bad id!:1:2')).toBeUndefined();
    expect(decodeVisit('abc:10:5')).toBeUndefined();
    expect(decodeVisit(encodeVisit({ visitId: 'abc', start: 10, last: 20 }))).toEqual({ visitId: 'abc', start: 10, last: 20 });
  });
});

import { fields, isId, join } from './record';
import type { Locks } from './locks';
import type { StorageAreas } from './storage';

/** The visit all tabs of the site share (model.md): its id, when it started, and its last activity in any tab. */
export interface VisitRecord {
  visitId: string;
  start: number;
  last: number;
}

export const VISIT_KEY = 'sb_visit';

export interface VisitOptions {
  /** Inactivity that ends a visit, ms. 30 minutes or more ends it; 29:59.999 does not. */
  timeout: number;
  /** At most one storage write per this many ms while the person is active. */
  writeEvery: number;
}

export const encodeVisit = (v: VisitRecord): string => join(v.visitId, v.start, v.last);

export function decodeVisit(value: string | null | undefined): VisitRecord | undefined {
  const [visitId, start, last] = fields(value, 3) ?? [];
  const v = { visitId, start: +start, last: +last };
  return isId(visitId) && v.start > 0 && v.last >= v.start ? v : undefined;
}

const later = (a?: VisitRecord, b?: VisitRecord) => (!a || (b && b.last > a.last) ? b : a);

export interface Visit {
  current: VisitRecord | undefined;
  /**
   * Records activity at `ts` and returns the visit it belongs to: synchronously
   * when this tab's own recent activity proves the visit alive, else a promise.
   */
  touch(ts: number): VisitRecord | Promise<VisitRecord>;
  /**
   * Reads every tab's view, rotates if the visit timed out, writes. Synchronous:
   * for the lock holder, and for a page that is leaving and cannot wait for a lock.
   */
  touchNow(ts: number): VisitRecord;
  /** Writes now if a throttled write is pending (the page is being hidden). */
  flush(): void;
  /** Merge-then-write: another tab's later activity in the same visit is kept. */
  writeBack(): void;
  forget(): void;
}

/**
 * The shared visit. Activity in this tab is recorded in memory on every call
 * (exact to the millisecond) and written to localStorage and a cookie at most
 * once per `writeEvery` ms, with a trailing write so the stored last-activity is
 * exact soon after the person stops. Writes merge with what other tabs stored,
 * never moving their last-activity back.
 *
 * The fast path (this tab was itself active within the timeout, so no tab can
 * have timed the visit out) touches no storage. Otherwise the visit may have to
 * rotate, and that is decided under a Web Lock so that tabs waking up together
 * agree on one new visitId. Without Web Locks, the decision re-reads storage just
 * before writing, so a tab waking after another adopts its new visit; two tabs
 * rotating in the very same instant converge at the next write, which adopts the
 * visit stored last (events sent in between carry the other id, and the
 * server's grouping wins, model.md rule 6).
 */
export function createVisit(
  areas: Pick<StorageAreas, 'cookie' | 'local'>,
  opts: VisitOptions,
  newId: () => string,
  now: () => number,
  locks?: Locks,
): Visit {
  const { local, cookie } = areas;
  let writtenAt = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const read = () => later(decodeVisit(local.get(VISIT_KEY)), decodeVisit(cookie.get(VISIT_KEY)));
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };

  const visit: Visit = {
    current: undefined,
    touch(ts) {
      const v = visit.current;
      if (v && ts - v.last < opts.timeout) {
        if (ts > v.last) v.last = ts;
        if (timer === undefined) {
          const wait = writtenAt + opts.writeEvery - now();
          if (wait <= 0) visit.writeBack();
          else timer = setTimeout(visit.flush, wait);
        }
        return v;
      }
      return locks ? locks.request('sessionbeacon:visit', {}, () => visit.touchNow(ts)).catch(() => visit.touchNow(ts)) : visit.touchNow(ts);
    },
    touchNow(ts) {
      const stored = later(read(), visit.current);
      visit.current =
        stored && ts - stored.last < opts.timeout
          ? { ...stored, last: Math.max(stored.last, ts) }
          : { visitId: newId(), start: ts, last: ts };
      visit.writeBack();
      return visit.current;
    },
    flush() {
      if (timer !== undefined) {
        stop();
        visit.writeBack();
      }
    },
    writeBack() {
      const v = visit.current;
      if (!v) return;
      const stored = read();
      if (stored?.visitId === v.visitId && stored.last > v.last) v.last = stored.last;
      // Another tab started the same or a newer visit (two tabs rotated at once without
      // Web Locks, or its clock saw a timeout ours did not): join the one that was stored.
      if (stored && stored.visitId !== v.visitId && stored.start >= v.start) visit.current = stored;
      writtenAt = now();
      const value = encodeVisit(visit.current!);
      local.set(VISIT_KEY, value);
      cookie.set(VISIT_KEY, value);
    },
    forget() {
      stop();
      cookie.del(VISIT_KEY);
      local.del(VISIT_KEY);
    },
  };
  return visit;
}

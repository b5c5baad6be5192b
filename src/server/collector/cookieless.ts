import { cookielessDeviceId, saltDays } from '../sessionizer/cookieless';
import type { Queryable } from './database';
import type { Salts } from './salts';

/**
 * The device of a cookieless request (docs/collector.md, "Cookieless mode"),
 * decided as `sessionize` decides it (../sessionizer/cookieless.ts,
 * CookielessRequests): the keyed hash of (projectId, IP, User-Agent) under the
 * salt of the UTC day; in the first SALT_GRACE after midnight, the previous
 * day's device instead while its visit is open, that is, while it has an event
 * received less than `inactivity` before this request. Those events are read from
 * atomic.events, and from the requests of this process still being written.
 */
export class CookielessDevices {
  /** Requests of this process whose device was decided and whose events are not yet committed: device key -> receivedAts. */
  private readonly inFlight = new Map<string, number[]>();

  constructor(
    private readonly db: Queryable,
    private readonly salts: Salts,
    private readonly inactivity: number,
  ) {}

  /**
   * The device of a request received at `receivedAt` (now). `done` must be
   * called once its events are committed or refused: until then, this process's
   * later requests count them as the device's.
   */
  async device(projectId: number, ip: string, userAgent: string | undefined, receivedAt: number): Promise<{ deviceId: string; done: () => void }> {
    const days = saltDays(receivedAt);
    let deviceId = cookielessDeviceId(await this.salts.current(days.current), projectId, ip, userAgent);
    if (days.previous) {
      const salt = await this.salts.previous(days.previous);
      const previous = salt && cookielessDeviceId(salt, projectId, ip, userAgent);
      if (previous && (await this.openAt(projectId, previous, receivedAt))) deviceId = previous;
    }
    const key = `${projectId}\u0000${deviceId}`;
    const list = this.inFlight.get(key) ?? this.inFlight.set(key, []).get(key)!;
    list.push(receivedAt);
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      list.splice(list.indexOf(receivedAt), 1);
      if (!list.length && this.inFlight.get(key) === list) this.inFlight.delete(key);
    };
    return { deviceId, done };
  }

  /** Whether the device has an event received in [t - inactivity, t). */
  private async openAt(projectId: number, deviceId: string, t: number): Promise<boolean> {
    const from = t - this.inactivity;
    if (this.inFlight.get(`${projectId}\u0000${deviceId}`)?.some((at) => at >= from && at < t)) return true;
    const { rows } = await this.db.query(
      `SELECT 1 FROM atomic.events WHERE "projectId" = $1 AND "deviceId" = $2 AND "receivedAt" >= $3::timestamptz AND "receivedAt" < $4::timestamptz LIMIT 1`,
      [projectId, deviceId, new Date(from).toISOString(), new Date(t).toISOString()],
    );
    return rows.length > 0;
  }
}

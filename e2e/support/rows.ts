import type { Collector } from './collector';

/** The atomic.session columns the e2e tests look at, as GET /sessions returns them. */
export interface Row {
  sessionId: string;
  deviceId: string;
  anonymousId: string;
  identityId: string | null;
  visitId: string;
  tabId: string;
  sessionStart: string;
  sessionEnd: string;
  duration: number;
  activeTime: number | null;
  pageViewsCount: number;
  pageReloaded: boolean | null;
  initURLPath: string;
  initTitle: string | null;
  exitURLPath: string;
  utmSource: string[] | null;
  utmMedium: string[] | null;
  utmCampaign: string[] | null;
  referrerURLOrigin: string | null;
  referrerURLPath: string | null;
  tags: string[] | null;
}

/** One device's rows, oldest first. */
export const rowsOf = async (collector: Collector, deviceId: string, projectId?: number): Promise<Row[]> =>
  (await collector.read<{ sessions: Row[] }>('/sessions?limit=1000', projectId))
    .sessions.filter((s) => s.deviceId === deviceId)
    .sort((a, b) => a.sessionStart.localeCompare(b.sessionStart));

/** Waits until one device's rows satisfy `ready` (the collector writes them as beacons arrive), and returns them. */
export async function rowsWhen(collector: Collector, deviceId: string, ready: (rows: Row[]) => boolean, projectId?: number): Promise<Row[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await rowsOf(collector, deviceId, projectId);
    if (ready(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`the rows of device ${deviceId} never got ready: ${JSON.stringify(rows, null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

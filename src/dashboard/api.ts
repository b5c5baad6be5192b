import type { VisitPage } from '../protocol';

export type { VisitPage };

/**
 * What the sessions page reads from the collector: GET /sessions and
 * GET /visits/:visitId (docs/collector.md), with the read token of one project.
 * Only the columns the page shows are typed here; the server sends them all.
 */

export interface SessionSummary {
  sessionId: string;
  deviceId: string | null;
  visitId: string | null;
  tabId: string | null;
  identityId: string | null;
  sessionStart: string;
  sessionEnd: string;
  duration: number;
  activeTime: number | null;
  pageViewsCount: number | null;
  initURLPath: string | null;
  exitURLPath: string | null;
  initTitle: string | null;
  referrerURLOrigin: string | null;
  utmSource: string[] | null;
  utmCampaign: string[] | null;
  browserName: string | null;
  osName: string | null;
  deviceType: string | null;
  countryCode: string | null;
  pageReloaded: boolean | null;
  isBot: boolean | null;
  tags: string[] | null;
}

export interface Visit {
  visitId: string;
  sessions: SessionSummary[];
  pages: VisitPage[];
}

/** A failed read, with the collector's own message ("this token reads no project"). */
export class ReadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function read<T>(path: string, token: string): Promise<T> {
  const response = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: string };
    throw new ReadError(response.status, body.error ?? `${response.status} ${response.statusText}`);
  }
  return (await response.json()) as T;
}

/** The project's sessions that started in the last `hours`, newest first. */
export const recentSessions = (token: string, hours: number, now = Date.now()) =>
  read<{ projectId: number; sessions: SessionSummary[] }>(`/sessions?from=${now - hours * 3_600_000}&limit=200`, token);

export const visit = (token: string, visitId: string) => read<Visit & { projectId: number }>(`/visits/${encodeURIComponent(visitId)}`, token);

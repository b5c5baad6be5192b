/** How the sessions page writes times, durations and IDs. Pure functions: tested in test/dashboard.test.ts. */

/** 950 -> "0.9 s", 65 000 -> "1 min 5 s", 3 720 000 -> "1 h 2 min"; null -> "–". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return s % 60 ? `${min} min ${s % 60} s` : `${min} min`;
  return min % 60 ? `${Math.floor(min / 60)} h ${min % 60} min` : `${Math.floor(min / 60)} h`;
}

/** The first characters of an ID: enough to tell rows apart. */
export const short = (id: string | null | undefined, length = 6) => (id ? id.slice(0, length) : '–');

/** A stable hue per ID, so one visit has one colour everywhere on the page. */
export function hue(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}

/** "14:03:07" in the viewer's time zone; the date too when it is not `today`'s. */
export function clock(iso: string, today = new Date()): string {
  const t = new Date(iso);
  const time = t.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return t.toDateString() === today.toDateString() ? time : `${t.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

/** A URL's path, query and fragment (what tells pages of one site apart). */
export function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search + u.hash;
  } catch {
    return url;
  }
}

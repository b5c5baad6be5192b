import { ReadError, recentSessions, visit as readVisit, type SessionSummary, type Visit } from './api';
import { h } from './dom';
import { sessionsTable, visitTimeline } from './view';

/**
 * The sessions page the collector serves at / (docs/collector.md): the recent
 * sessions of the project the read token in the URL's fragment reads, and the
 * timeline of the visit picked in the table. It polls every 2 s while shown.
 * State lives in the fragment (#token=...&visit=...): links can be shared, and
 * the token is never sent to a server but as the Authorization header.
 */

const POLL_MS = 2000;
const $ = (id: string) => document.getElementById(id)!;

function state() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { token: params.get('token') ?? '', visitId: params.get('visit') ?? undefined, hours: Number(params.get('hours')) || 24 };
}

function setState(change: Partial<ReturnType<typeof state>>) {
  const next = { ...state(), ...change };
  const params = new URLSearchParams();
  if (next.token) params.set('token', next.token);
  if (next.visitId) params.set('visit', next.visitId);
  if (next.hours !== 24) params.set('hours', String(next.hours));
  history.replaceState(null, '', `#${params}`);
  void refresh();
}

let shownSessions = '';
let shownVisit = '';
let running: Promise<void> | undefined;

/** Reads and redraws; a redraw only when the data changed, so a selection or a scroll survives the poll. */
function refresh(): Promise<void> {
  running ??= draw().finally(() => (running = undefined));
  return running;
}

async function draw() {
  const { token, visitId, hours } = state();
  ($('hours') as HTMLSelectElement).value = String(hours);
  $('token-form').hidden = !!token;
  $('content').hidden = !token;
  if (!token) return status('Paste a read token (npm start prints a link that carries one).');
  try {
    const { projectId, sessions } = await recentSessions(token, hours);
    $('project').textContent = `project ${projectId}`;
    const key = JSON.stringify([sessions, visitId]);
    if (key !== shownSessions) {
      shownSessions = key;
      $('sessions').replaceChildren(sessionsTable(sessions, visitId, (v) => setState({ visitId: v })));
    }
    $('count').textContent = `${sessions.length} ${sessions.length === 1 ? 'session' : 'sessions'}${sessions.length === 200 ? ' (the latest 200)' : ''}`;
    await drawVisit(token, visitId, sessions);
    status(`live · updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`);
  } catch (error) {
    status(error instanceof ReadError ? `GET failed (${error.status}): ${error.message}` : `cannot reach the collector: ${(error as Error).message}`, true);
  }
}

async function drawVisit(token: string, visitId: string | undefined, sessions: SessionSummary[]) {
  let visit: Visit | undefined;
  if (visitId) {
    try {
      visit = await readVisit(token, visitId);
    } catch (error) {
      if (!(error instanceof ReadError && error.status === 404)) throw error;
    }
  }
  const key = JSON.stringify(visit ?? null);
  if (key === shownVisit) return;
  shownVisit = key;
  $('visit').replaceChildren(visit ? visitTimeline(visit) : h('p', { class: 'empty' }, sessions.length ? 'Pick a session to see its visit: every tab, every page, and the time spent on each.' : ''));
}

function status(text: string, failed = false) {
  const element = $('status');
  element.textContent = text;
  element.classList.toggle('failed', failed);
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  setState({ token: ($('token') as HTMLInputElement).value.trim() });
});
$('hours').addEventListener('change', (event) => setState({ hours: Number((event.target as HTMLSelectElement).value) }));
addEventListener('hashchange', () => void refresh());
setInterval(() => document.visibilityState === 'visible' && void refresh(), POLL_MS);
void refresh();

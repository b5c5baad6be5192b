import type { SessionSummary, Visit } from './api';
import { h } from './dom';
import { clock, duration, hue, pathOf, short } from './format';
import { layout } from './timeline';

const swatch = (id: string | null) => h('span', { class: 'swatch', style: id ? `background:hsl(${hue(id)} 65% 55%)` : '' });
const id = (value: string | null, length?: number) => h('code', { title: value ?? '' }, short(value, length));

function source(s: SessionSummary): string {
  const utm = [s.utmSource?.[0], s.utmCampaign?.[0]].filter(Boolean).join(' / ');
  if (utm) return utm;
  if (!s.referrerURLOrigin) return 'direct';
  try {
    return new URL(s.referrerURLOrigin).host;
  } catch {
    return s.referrerURLOrigin;
  }
}

function flags(s: SessionSummary): string[] {
  const out: string[] = [];
  if (s.pageReloaded) out.push('reloaded');
  if (s.isBot) out.push('bot');
  for (const tag of s.tags ?? []) out.push(tag);
  return out;
}

/** The table of recent sessions; a click on a row asks for its visit. */
export function sessionsTable(sessions: SessionSummary[], selected: string | undefined, select: (visitId: string) => void): HTMLElement {
  if (!sessions.length) return h('p', { class: 'empty' }, 'No sessions in this time range yet. Open one of the examples (/examples/) or a page with the script, and they appear here within seconds.');
  const head = ['Started', 'Visit', 'Tab', 'User', 'Pages', 'Active', 'Duration', 'Entry page', 'Exit page', 'Source', 'Browser', 'Country', ''];
  return h(
    'table',
    { class: 'sessions' },
    h('thead', {}, h('tr', {}, head.map((name) => h('th', {}, name)))),
    h(
      'tbody',
      {},
      sessions.map((s) => {
        const row = h(
          'tr',
          { 'data-visit': s.visitId ?? '', 'data-session': s.sessionId, class: s.visitId && s.visitId === selected ? 'selected' : undefined, tabindex: 0 },
          h('td', { title: s.sessionStart }, clock(s.sessionStart)),
          h('td', { title: `device ${s.deviceId ?? '–'}` }, swatch(s.visitId), id(s.visitId)),
          h('td', {}, id(s.tabId)),
          h('td', { class: 'path' }, s.identityId ?? ''),
          h('td', { class: 'num' }, s.pageViewsCount ?? 0),
          h('td', { class: 'num' }, duration(s.activeTime)),
          h('td', { class: 'num' }, duration(s.duration)),
          h('td', { class: 'path', title: s.initTitle ?? '' }, s.initURLPath ?? '–'),
          h('td', { class: 'path' }, s.exitURLPath ?? '–'),
          h('td', {}, source(s)),
          h('td', {}, [s.browserName, s.osName].filter(Boolean).join(' · ') || '–'),
          h('td', {}, s.countryCode ?? ''),
          h('td', {}, flags(s).map((f) => h('span', { class: 'flag' }, f))),
        );
        const open = () => s.visitId && select(s.visitId);
        row.addEventListener('click', open);
        row.addEventListener('keydown', (e) => e.key === 'Enter' && open());
        return row;
      }),
    ),
  );
}

/** A visit: one lane per tab with its pages on a shared time axis, then the pages as a list. */
export function visitTimeline(visit: Visit): HTMLElement {
  const t = layout(visit);
  const active = visit.sessions.reduce((sum, s) => sum + (s.activeTime ?? 0), 0);
  const lanes = t.lanes.map((lane, i) =>
    h(
      'div',
      { class: 'lane', 'data-tab': lane.tabId },
      h('div', { class: 'lane-label' }, h('strong', {}, `Tab ${i + 1}`), ' ', id(lane.tabId), h('br'), `${lane.pageViews} page views · ${duration(lane.activeTime)} active`),
      h(
        'div',
        { class: 'track' },
        lane.sessions.map((s) => h('div', { class: 'session-bar', style: `left:${s.left}%;width:${s.width}%`, title: `session ${s.sessionId}` })),
        lane.pages.map((p) =>
          h(
            'div',
            { class: 'page-bar', 'data-page': p.pageId, style: `left:${p.left}%;width:${p.width}%;background:hsl(${hue(p.pageId)} 60% 70%)`, title: `${p.title ?? ''}\n${p.url}\n${duration(p.activeTime)} active` },
            h('span', {}, `${pathOf(p.url)} · ${duration(p.activeTime)}`),
          ),
        ),
      ),
    ),
  );
  const start = new Date(t.start).toISOString();
  const pages = h(
    'table',
    { class: 'pages' },
    h('thead', {}, h('tr', {}, ['At', 'Tab', 'Page', 'How', 'Active', 'On page'].map((name) => h('th', {}, name)))),
    h(
      'tbody',
      {},
      visit.pages.map((p) =>
        h(
          'tr',
          { 'data-page': p.pageId },
          h('td', { title: p.start }, `+${duration(Date.parse(p.start) - t.start)}`),
          h('td', {}, `Tab ${t.lanes.findIndex((l) => l.tabId === p.tabId) + 1}`),
          h('td', { class: 'path', title: p.url }, pathOf(p.url), p.title ? h('span', { class: 'title' }, p.title) : null),
          h('td', {}, p.navigationType ?? ''),
          h('td', { class: 'num' }, duration(p.activeTime)),
          h('td', { class: 'num' }, duration(Date.parse(p.end) - Date.parse(p.start))),
        ),
      ),
    ),
  );
  return h(
    'section',
    { class: 'visit', 'data-visit': visit.visitId },
    h('h2', {}, swatch(visit.visitId), 'Visit ', id(visit.visitId, 10)),
    h(
      'p',
      { class: 'summary' },
      `${clock(start)} – ${clock(new Date(t.end).toISOString())} · ${t.lanes.length} ${t.lanes.length === 1 ? 'tab' : 'tabs'} · ${visit.pages.length} page views · ${duration(active)} active in all tabs · ${duration(t.end - t.start)} long`,
    ),
    h('div', { class: 'axis' }, h('span', {}, clock(start)), h('span', {}, `+${duration(t.end - t.start)}`)),
    h('div', { class: 'lanes' }, lanes),
    pages,
  );
}

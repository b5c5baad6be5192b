// Poison for bench/collector-load.mjs (--poison): the values that issue 13 found
// answered with a 500 (and so retried, one request at a time, by every SDK), put
// into a share of the benchmark's requests. Deterministic per request number, so
// that the run can check afterwards which acknowledged events were stored.

const INT_MAX = 2_147_483_647;
const CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99999999999.0.0.0 Safari/537.36';

/** Each poisoned request carries one of these, in turn. */
export const POISONS = [
  { name: 'User-Agent major version past int32', headers: { 'user-agent': CHROME } },
  { name: 'client hint major version past int32', view: { userAgentData: { brands: [{ brand: 'Google Chrome', version: '99999999999' }], mobile: false, platform: 'macOS' } } },
  { name: 'x-city: %00', headers: { 'x-city': '%00' } },
  { name: 'cf-ipcountry: %00', headers: { 'cf-ipcountry': '%00' } },
  { name: 'userActions summing past int32', reports: { userActions: INT_MAX } },
  { name: 'activeTime summing past int32', reports: { activeTime: INT_MAX } },
];

/** The geo headers the benchmark's collector trusts (a proxy in front sets them), so that the poisoned ones reach the columns. */
export const GEO_HEADERS = { country: ['cf-ipcountry'], city: ['x-city'] };

/** Whether request `n` is poisoned at `rate` (0 to 1): spread evenly over the run, about rate × n of the first n. */
export const isPoisoned = (n, rate) => rate > 0 && Math.floor((n + 1) * rate) > Math.floor(n * rate);

/**
 * Request `n`'s batch and headers, poisoned: the page view changed, or two page
 * reports of two pages added whose values sum past int32, or headers replaced.
 */
export function poison(n, batch, headers) {
  const p = POISONS[Math.floor(n * 7919) % POISONS.length];
  const events = batch.events.map((e) => (p.view && e.type === 'page_view' ? { ...e, ...p.view } : e));
  if (p.reports) {
    const { id, ts, seq, deviceId, anonymousId, visitId, sessionId, tabId, pageId } = events[0];
    for (const k of [1, 2])
      events.push({ id: `${id}~p${k}`, type: 'page_leave', ts, seq: seq + 100 + k, deviceId, anonymousId, visitId, sessionId, tabId, pageId: `${pageId.slice(0, 18)}~p${k}`, activeTime: 1000, userActions: 1, ...p.reports });
  }
  return { batch: { ...batch, events }, headers: { ...headers, ...p.headers } };
}

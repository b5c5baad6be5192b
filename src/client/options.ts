/** Options of `createTracker`. Every one has a `data-*` form on the script tag (kebab-case) except functions. */
export interface TrackerOptions {
  /** Where batches are POSTed. The only required option. */
  endpoint: string;
  /** Sent with every batch; the collector maps it to a project. */
  projectId?: number | string;
  /** A visit ends after this much inactivity in every tab, ms. Default 30 minutes. */
  inactivityTimeout?: number;
  /** activeTime stops counting this long after the last interaction, ms. Default 30 s. */
  idleTimeout?: number;
  /** Share the ID cookies with subdomains of this domain (refused if a public suffix). Default: host-only. */
  cookieDomain?: string;
  /** Set false to keep IDs out of cookies (localStorage and IndexedDB still repair each other). Default true. */
  cookies?: boolean;
  /** 'pending' stores and sends nothing until `optIn()`; events wait in memory. Default 'granted'. */
  consent?: 'granted' | 'pending';
  /**
   * `true` stores nothing on the device (no cookie, web storage or IndexedDB: the page's tabId and
   * pageId live in memory) and sends cookieless batches, whose device the collector derives;
   * 'until-consent' does so until `optIn()` (consent then starts 'pending') and again after `optOut()`.
   * Default false (cookieless.ts).
   */
  cookieless?: boolean | 'until-consent';
  /** Treat a Global Privacy Control signal as an opt-out until an explicit `optIn()`. Default true. */
  respectGpc?: boolean;
  /** Count history and hash route changes of a single-page app as page views. Default true. */
  autoPageViews?: boolean;
  /** A batch leaves this many ms after its first event. Default 1000. */
  flushInterval?: number;
  /** A batch leaves at once when it holds this many events. Default 50. */
  maxBatchEvents?: number;
  /** While the page is used, its activeTime is reported this often, ms; 0 turns it off. Default 30000. */
  heartbeatInterval?: number;
}

export const DEFAULTS = {
  endpoint: '/collect',
  inactivityTimeout: 30 * 60 * 1000,
  idleTimeout: 30 * 1000,
  cookies: true,
  consent: 'granted' as 'granted' | 'pending',
  cookieless: false as boolean | 'until-consent',
  respectGpc: true,
  autoPageViews: true,
  flushInterval: 1000,
  maxBatchEvents: 50,
  heartbeatInterval: 30 * 1000,
};

export type ResolvedOptions = typeof DEFAULTS & Pick<TrackerOptions, 'projectId' | 'cookieDomain'>;

/**
 * Fills in defaults. A value of the wrong type (or a negative, NaN or infinite number) is
 * replaced by the default, so no option can make the tracker throw; `consent`
 * is 'pending' only when asked for exactly (or implied by `cookieless: 'until-consent'`),
 * and `cookieless` is true or 'until-consent' only when exactly that.
 */
export function resolveOptions(options: Partial<TrackerOptions> | undefined): ResolvedOptions {
  const given = (options && typeof options === 'object' ? options : {}) as Record<string, unknown>;
  const resolved = { ...DEFAULTS } as Record<string, unknown>;
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    const value = given[key];
    // A number must be finite and not negative: NaN would make every event a new visit, Infinity every timer fire at once.
    if (typeof value === typeof fallback && (typeof value !== 'number' || (value >= 0 && value < Infinity))) resolved[key] = value;
  }
  if (resolved.consent !== 'pending') resolved.consent = 'granted';
  // 'until-consent' waits for consent by its very meaning (a stored decision still wins: consent.ts).
  if (given.cookieless === 'until-consent') (resolved.cookieless = given.cookieless), (resolved.consent = 'pending');
  // Checked where used: projectId is sent as given (the collector validates it), cookieDomain is probed.
  return { ...resolved, projectId: given.projectId, cookieDomain: given.cookieDomain } as ResolvedOptions;
}

import { fields, isId, join } from './record';
import type { SyncArea } from './storage';
import { attempt } from './lib/attempt';

/** One browser tab (model.md): its tabId, its current sessionId and the visit that session belongs to, and its event counter. */
export interface TabRecord {
  tabId: string;
  sessionId: string;
  visitId: string;
  seq: number;
}

export const TAB_KEY = 'sb_tab';

/** The subset of BroadcastChannel we use, so tests can inject one. */
export interface Channel {
  postMessage(message: unknown): void;
  onmessage: ((e: MessageEvent) => void) | null;
  close(): void;
}

export const encodeTab = (t: TabRecord): string => join(t.tabId, t.sessionId, t.visitId, t.seq);

export function decodeTab(value: string | null | undefined): TabRecord | undefined {
  const [tabId, sessionId, visitId, seq] = fields(value, 4) ?? [];
  const t = { tabId, sessionId, visitId, seq: +seq };
  return isId(tabId) && isId(sessionId) && (visitId === '' || isId(visitId)) && t.seq >= 0 ? t : undefined;
}

export interface Tab {
  record: TabRecord;
  /** Resolves once the tab is known to be this page's own (after at most `wait` ms); `anew`: a new tab, the stored one not even read (cookieless). */
  resolve(wait?: number, anew?: boolean): Promise<TabRecord>;
  /** The sessionId of this tab in `visitId`: a new one whenever the visit changes. */
  sessionFor(visitId: string): string;
  /** The next event number of this tab (in memory: writeBack stores it). */
  nextSeq(): number;
  writeBack(): void;
  /** Answers other pages' questions again (after a restore from the back/forward cache). */
  listen(): void;
  /** Stops answering (hidden into the back/forward cache, or destroyed). */
  close(): void;
  forget(): void;
  /** A new tabId, sessionId and seq for the rest of the page, in memory (an opt-out: nothing ties what follows to what was sent). */
  renew(): void;
}

/**
 * The tab, kept in sessionStorage: it survives reloads and in-tab navigations.
 * A duplicated tab (and a window.open popup) starts with a copy of the
 * sessionStorage, hence of the tabId; to tell it apart, a page that finds a
 * stored tabId asks the other pages of the site on a BroadcastChannel whether
 * one of them holds that tabId, and takes a new one if so. A page of the same
 * tab that was left is gone or frozen in the back/forward cache, so it never
 * answers. An answer that comes late still makes this page take a new tabId.
 */
export function createTab(area: SyncArea, newId: () => string, openChannel?: () => Channel | undefined): Tab {
  let channel: Channel | undefined;
  /** This page may answer for its tabId (its own question has been settled). */
  let settled = false;
  /** The tabId was made by this page, so it cannot be someone else's copy. */
  let own = false;
  const fresh = (): TabRecord => {
    own = true;
    return { tabId: newId(), sessionId: newId(), visitId: '', seq: 0 };
  };

  const tab: Tab = {
    record: undefined!,
    resolve(wait = 100, anew) {
      const stored = anew ? undefined : decodeTab(area.get(TAB_KEY));
      tab.record = stored ?? fresh();
      tab.writeBack();
      tab.listen();
      const done = () => ((settled = true), tab.record);
      if (!stored || !channel) return Promise.resolve(done());
      channel.postMessage({ sbWho: stored.tabId });
      return new Promise((resolve) => setTimeout(() => resolve(done()), wait));
    },
    sessionFor(visitId) {
      const t = tab.record;
      if (t.visitId !== visitId) {
        t.visitId = visitId;
        t.sessionId = newId();
        tab.writeBack();
      }
      return t.sessionId;
    },
    // Counted in memory; stored with the record's other writes and when the page is hidden.
    nextSeq: () => tab.record.seq++,
    writeBack: () => area.set(TAB_KEY, encodeTab(tab.record)),
    listen() {
      if (channel) return;
      channel = attempt(() => openChannel?.());
      if (channel)
        channel.onmessage = (e) => {
          const data = e.data as { sbWho?: string; sbMine?: string } | null;
          const tabId = tab.record.tabId;
          if (settled && data?.sbWho === tabId) channel?.postMessage({ sbMine: tabId });
          // Someone else already holds our tabId: this page is the duplicate.
          if (!own && data?.sbMine === tabId) {
            tab.record = fresh();
            tab.writeBack();
          }
        };
    },
    close() {
      channel?.close();
      channel = undefined;
    },
    forget: () => area.del(TAB_KEY),
    renew: () => void (tab.record &&= fresh()),
  };
  return tab;
}

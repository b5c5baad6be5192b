import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTab, decodeTab, TAB_KEY } from '../src/client/tab';
import { channelBus, idSequence, memoryArea } from './helpers';

describe('tab', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a new tab gets a new tabId at once, without asking anyone', async () => {
    const bus = channelBus();
    const tab = createTab(memoryArea(), idSequence('t'), bus);
    const record = await tab.resolve();
    expect(record).toEqual({ tabId: 't1', sessionId: 't2', visitId: '', seq: 0 });
  });

  it('a reload (nobody else holds the tabId) keeps tabId, sessionId and seq', async () => {
    const bus = channelBus();
    const session = memoryArea();
    const ids = idSequence('t');
    const first = createTab(session, ids, bus);
    await first.resolve();
    first.sessionFor('visit1');
    first.nextSeq();
    first.writeBack(); // hidden: the tracker stores the counter
    first.close(); // the old page is gone
    const again = createTab(session, ids, bus);
    const pending = again.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(await pending).toMatchObject({ tabId: first.record.tabId, sessionId: first.record.sessionId, seq: 1 });
  });

  it('a duplicated tab (a copy of sessionStorage while the original lives) gets a new tabId and sessionId', async () => {
    const bus = channelBus();
    const ids = idSequence('t');
    const original = createTab(memoryArea(), ids, bus);
    const resolving = original.resolve();
    await vi.advanceTimersByTimeAsync(100);
    await resolving;
    original.sessionFor('visit1');
    const copy = memoryArea(); // the browser's copy of the original's sessionStorage
    copy.set(TAB_KEY, `${original.record.tabId}:${original.record.sessionId}:visit1:5`);
    const duplicate = createTab(copy, ids, bus);
    const pending = duplicate.resolve();
    await vi.advanceTimersByTimeAsync(100);
    const record = await pending;
    expect(record.tabId).not.toBe(original.record.tabId);
    expect(record.sessionId).not.toBe(original.record.sessionId);
    expect(record.seq).toBe(0);
    expect(decodeTab(copy.get(TAB_KEY))!.tabId).toBe(record.tabId);
    expect(original.record.tabId).toBe('t1'); // the original keeps its own
  });

  it('an answer arriving after the wait still makes the copy take a new tabId', async () => {
    const bus = channelBus();
    const ids = idSequence('t');
    const original = createTab(memoryArea(), ids, bus);
    void original.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const copy = memoryArea();
    copy.set(TAB_KEY, `${original.record.tabId}:${original.record.sessionId}::0`);
    const duplicate = createTab(copy, ids, bus);
    const pending = duplicate.resolve(0); // gives up waiting at once
    await vi.advanceTimersByTimeAsync(0);
    expect((await pending).tabId).toBe(original.record.tabId);
    await vi.advanceTimersByTimeAsync(10);
    expect(duplicate.record.tabId).not.toBe(original.record.tabId);
  });

  it('a page in the back/forward cache (channel closed) does not claim its tabId', async () => {
    const bus = channelBus();
    const session = memoryArea();
    const ids = idSequence('t');
    const left = createTab(session, ids, bus);
    await left.resolve();
    left.close();
    const next = createTab(session, ids, bus);
    const pending = next.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect((await pending).tabId).toBe(left.record.tabId);
  });

  it('gives a new sessionId when the visit changes', async () => {
    const tab = createTab(memoryArea(), idSequence('t'));
    await tab.resolve();
    const s1 = tab.sessionFor('v1');
    expect(tab.sessionFor('v1')).toBe(s1);
    expect(tab.sessionFor('v2')).not.toBe(s1);
  });

  it('reads foreign values as nothing', () => {
    expect(decodeTab('a:b:c')).toBeUndefined();
    expect(decodeTab('a:b:c:-1')).toBeUndefined();
    expect(decodeTab('a:b::0')).toEqual({ tabId: 'a', sessionId: 'b', visitId: '', seq: 0 });
  });
});

// The wire protocol's shared helpers (src/protocol.ts): what client and collector both rely on.
import { describe, expect, it } from 'vitest';
import { cut, expandEvents, LIMITS, type Batch } from '../src/protocol';

describe('cut', () => {
  it('keeps a string within the limit as it is', () => {
    expect(cut('abc', 3)).toBe('abc');
  });
  it('cuts to the limit in UTF-16 code units, never between the halves of a surrogate pair', () => {
    expect(cut('abcdef', 4)).toBe('abcd');
    expect(cut('ab😀cd', 3)).toBe('ab'); // 😀 is two code units: keeping one would leave a lone surrogate
    expect(cut('ab😀cd', 4)).toBe('ab😀');
    expect(cut('😀'.repeat(LIMITS.title), LIMITS.title)).toHaveLength(LIMITS.title);
  });
});

describe('expandEvents', () => {
  const event = { id: 'e1', type: 'track', name: 'x', ts: 1, seq: 0, tabId: 'own' } as const;
  it('returns the events as they are when the batch shares no ID', () => {
    const batch = { v: 1, sentAt: 1, events: [event] } as unknown as Batch;
    expect(expandEvents(batch)).toBe(batch.events);
  });
  it("puts the batch's IDs into each event that lacks them; an event's own value wins", () => {
    const batch = { v: 1, sentAt: 1, deviceId: 'd', tabId: 'shared', events: [event, { ...event, id: 'e2', tabId: undefined }] } as unknown as Batch;
    expect(expandEvents(batch).map((e) => [e.deviceId, e.tabId])).toEqual([
      ['d', 'own'],
      ['d', 'shared'],
    ]);
  });
});

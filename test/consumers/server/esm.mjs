// The collector's package alone: its API from ESM.
import assert from 'node:assert/strict';
import { createCollector, LIMITS, sessionize } from 'sessionbeacon-server';

assert.equal(typeof createCollector, 'function');
assert.equal(LIMITS.url, 8192);
const ids = { deviceId: 'd1', anonymousId: 'a1', visitId: 'v1', sessionId: 's1', tabId: 't1', pageId: 'p1' };
const rows = sessionize([{ receivedAt: 1_764_000_000_000, body: { v: 1, projectId: 1, sentAt: 1_764_000_000_000, ...ids, events: [{ id: 'e1', type: 'track', name: 'x', ts: 1_764_000_000_000, seq: 0 }] } }]);
assert.equal(rows.length, 1);
assert.equal(rows[0].deviceId, 'd1');
console.log('ok esm');

// ESM, as a Node script or a bundler's entry loads the SDK (server-side rendering: no DOM).
import assert from 'node:assert/strict';
import * as sdk from 'sessionbeacon';
import * as testing from 'sessionbeacon/testing';

assert.equal(typeof sdk.createTracker, 'function');
assert.equal(sdk.PROTOCOL_VERSION, 1);
assert.equal(sdk.LIMITS.url, 8192);
assert.equal(typeof testing.captureBeacons, 'function');
const tracker = sdk.createTracker({ endpoint: '/collect' });
tracker.track('rendered');
await tracker.flush();
console.log('ok esm');

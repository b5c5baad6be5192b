// CommonJS: require() of the SDK and of the Playwright helper.
const assert = require('node:assert/strict');
const sdk = require('sessionbeacon');
const testing = require('sessionbeacon/testing');

assert.equal(typeof sdk.createTracker, 'function');
assert.equal(sdk.PROTOCOL_VERSION, 1);
assert.equal(typeof testing.captureBeacons, 'function');
assert.equal(typeof testing.flushTrackers, 'function');
sdk.createTracker({ endpoint: '/collect' }).track('rendered');
console.log('ok cjs');

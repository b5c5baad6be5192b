// The collector's package alone: its API from CommonJS.
const assert = require('node:assert/strict');
const { sessionize, Engine } = require('sessionbeacon-server');

assert.equal(typeof sessionize, 'function');
assert.equal(typeof Engine, 'function');
console.log('ok cjs');

/**
 * sessionbeacon-server: the reference collector and sessionizer, for Node.
 * Never imports the DOM; shares only src/protocol.ts with the client.
 */
export * from './sessionizer';
export { requestProblem } from './sessionizer/validate';
export { createCollector, type CollectorOptions } from './collector/app';
export { serve, parseServeArgs, type ServeOptions, type RunningCollector } from './collector/serve';
export { openDatabase, openPGlite, openPostgres, type Database, type Queryable } from './collector/database';
export { migrate } from './collector/migrations';
export { parseConfig, readConfig, hashToken, newToken, type CollectorConfig, type ProjectConfig } from './collector/config';
export type * from '../protocol';
export { PROTOCOL_VERSION, MAX_REQUEST_BYTES, LIMITS, EVENT_TYPES, PASSIVE_EVENT_TYPES, CLICK_ID_PARAMS, ID_FIELDS, cut, expandEvents } from '../protocol';

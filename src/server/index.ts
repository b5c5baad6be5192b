/**
 * sessionbeacon/server: the reference sessionizer (and, from issue 5, the
 * collector), for Node. Never imports the DOM; shares only src/protocol.ts with
 * the client.
 */
export * from './sessionizer';
export { requestProblem } from './sessionizer/validate';
export type * from '../protocol';

/**
 * The subset of the Web Locks API we use (https://developer.mozilla.org/docs/Web/API/LockManager/request),
 * so tests can inject their own. With `ifAvailable`, the callback gets null when
 * the lock is held elsewhere.
 */
export interface Locks {
  request<T>(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => T | Promise<T>): Promise<T>;
}

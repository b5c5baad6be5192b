/**
 * Runs `fn`; any exception becomes undefined. The one try/catch of the modules
 * that read what the browser or the page may break: storage that throws
 * (SecurityError, QuotaExceededError), a malformed stored value, a missing API.
 */
export function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

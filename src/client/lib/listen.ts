/**
 * addEventListener that can never throw into the host page: the callback runs in
 * try/catch, and the returned function removes the listener again.
 */
export type Off = () => void;

export function listen(
  target: EventTarget | undefined,
  type: string,
  fn: (e: Event) => void,
  capture = false,
): Off {
  const safe = (e: Event) => {
    try {
      fn(e);
    } catch {
      // A bug of ours must never become an error of the page.
    }
  };
  // passive: we never call preventDefault, so scroll and touch stay fast.
  const opts = { capture, passive: true };
  target?.addEventListener(type, safe, opts);
  return () => target?.removeEventListener(type, safe, opts);
}

/** Runs every function of the list (the unsubscribes of a module). */
export const offAll = (offs: Off[]): Off => () => offs.splice(0).forEach((off) => off());

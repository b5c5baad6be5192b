/**
 * addEventListener that can never throw into the host page: the callback runs in
 * try/catch, and the returned function removes the listener again. `types` may
 * name several events, separated by spaces: one callback listens to each.
 */
export type Off = () => void;

export function listen(
  target: EventTarget | undefined,
  types: string,
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
  const all = types.split(' ');
  all.forEach((type) => target?.addEventListener(type, safe, opts));
  return () => all.forEach((type) => target?.removeEventListener(type, safe, opts));
}

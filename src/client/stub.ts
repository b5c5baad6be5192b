import type { QueuedCall } from './tracker';
import type { TrackerOptions } from './options';

/** The queue of the one-line stub: [arguments, Date.now(), location.href, document.title] per call. */
export type Stub = ((...args: unknown[]) => void) & { q?: [ArrayLike<unknown>, number, string, string][] };

/** data-* attributes to options: kebab-case becomes camelCase, numbers and booleans are parsed; `data-project` is `projectId`. */
export function optionsFromDataset(dataset: DOMStringMap | undefined): TrackerOptions {
  const options: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(dataset ?? {})) {
    if (raw === undefined) continue;
    options[key === 'project' ? 'projectId' : key] = raw === 'true' || (raw !== 'false' && (raw && !isNaN(+raw) ? +raw : raw));
  }
  return options as unknown as TrackerOptions;
}

export function fromStub(stub: Stub | undefined): QueuedCall[] {
  return (Array.isArray(stub?.q) ? stub!.q : []).map(([args, ts, url, title]) => {
    const [method, ...rest] = Array.from(args);
    return { method: String(method), args: rest, ts, url, title };
  });
}

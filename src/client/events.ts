import type { EventIds, WireEvent } from '../protocol';
import { attempt } from './lib/attempt';

/** An event as built, before the tracker stamps its id, seq and IDs. */
export type EventFields = Omit<WireEvent, keyof EventIds | 'id' | 'seq'> & Record<string, unknown>;

/** The largest JSON of `properties` or `traits` kept, in UTF-16 units: well inside one beacon. */
export const PROPERTIES_MAX = 16384;

/** Properties are kept only if they serialize to JSON within PROPERTIES_MAX; a copy, so later changes by the page do not leak in. */
export function jsonProperties(value: unknown): Record<string, unknown> | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  // Undefined for cycles, BigInt, throwing getters.
  return attempt(() => {
    const json = JSON.stringify(value);
    return json.length <= PROPERTIES_MAX ? (JSON.parse(json) as Record<string, unknown>) : undefined;
  });
}

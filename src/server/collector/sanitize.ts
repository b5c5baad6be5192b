/**
 * What JSON allows but PostgreSQL does not store: U+0000 (text and jsonb refuse
 * it) and lone UTF-16 surrogates (jsonb refuses them). Both become U+FFFD, in
 * keys and values alike, so a page title cut in the middle of an emoji does not
 * cost the batch. Nesting deeper than `maxDepth` is refused instead: no event
 * needs it, and it is how bodies are built to hurt.
 */
export class TooDeep extends Error {}

const NUL = /\u0000/g;

function clean(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes('\u0000') ? wellFormed.replace(NUL, '\ufffd') : wellFormed;
}

/** A copy of a parsed JSON value with every string storable; throws TooDeep past `maxDepth` levels of objects and arrays. */
export function storable(value: unknown, maxDepth: number, depth = 0): unknown {
  if (typeof value === 'string') return clean(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= maxDepth) throw new TooDeep(`nested deeper than ${maxDepth} levels`);
  if (Array.isArray(value)) return value.map((v) => storable(v, maxDepth, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value))
    // defineProperty: a "__proto__" key stays a key (as JSON.parse made it), never a prototype.
    Object.defineProperty(out, clean(key), { value: storable(v, maxDepth, depth + 1), enumerable: true, writable: true, configurable: true });
  return out;
}

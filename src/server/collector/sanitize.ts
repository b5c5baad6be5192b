/**
 * What JSON allows but PostgreSQL does not store: U+0000 (text and jsonb refuse
 * it) and lone UTF-16 surrogates (jsonb refuses them). Both become U+FFFD, in
 * keys and values alike (and a leading U+FEFF is dropped, see storableText()), so a page title cut in the middle of an emoji does not
 * cost the batch. Nesting deeper than `maxDepth` is refused instead: no event
 * needs it, and it is how bodies are built to hurt.
 */
export class TooDeep extends Error {}

const NUL = /\u0000/g;

/**
 * Leading byte-order marks are dropped too: they mean nothing inside a JSON
 * string, and PGlite 0.5.16 drops them when it reads a text value back (its
 * TextDecoder strips a BOM), so the same row would read differently on PGlite
 * and on PostgreSQL.
 */
const LEADING_BOM = /^\ufeff+/;

/** `text` as PostgreSQL's text and jsonb store it: NUL and lone surrogates as U+FFFD, no leading BOM. */
export function storableText(text: string): string {
  let out = text.isWellFormed() ? text : text.toWellFormed();
  if (out.includes('\u0000')) out = out.replace(NUL, '\ufffd');
  return out.charCodeAt(0) === 0xfeff ? out.replace(LEADING_BOM, '') : out;
}

/** A copy of a parsed JSON value with every string storable; throws TooDeep past `maxDepth` levels of objects and arrays. */
export function storable(value: unknown, maxDepth: number, depth = 0): unknown {
  if (typeof value === 'string') return storableText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= maxDepth) throw new TooDeep(`nested deeper than ${maxDepth} levels`);
  if (Array.isArray(value)) return value.map((v) => storable(v, maxDepth, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value))
    // defineProperty: a "__proto__" key stays a key (as JSON.parse made it), never a prototype.
    Object.defineProperty(out, storableText(key), { value: storable(v, maxDepth, depth + 1), enumerable: true, writable: true, configurable: true });
  return out;
}

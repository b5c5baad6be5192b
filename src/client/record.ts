/**
 * The stored form of the ID records: fields joined by ':' (none of our IDs,
 * nanoid's A-Za-z0-9_-, contains one; free text is URI-encoded). Short enough
 * for a cookie, and a tampered or foreign value reads as nothing.
 */
const ID = /^[\w-]{1,64}$/;

export const isId = (value: string | undefined): value is string => !!value && ID.test(value);

/** The `count` fields of a stored record, or undefined when it is not one. */
export function fields(value: string | null | undefined, count: number): string[] | undefined {
  const parts = value ? value.split(':') : [];
  return parts.length === count ? parts : undefined;
}

export const join = (...parts: (string | number)[]): string => parts.join(':');

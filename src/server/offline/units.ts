/** The units of the command line's flags. */

/** "30m" -> 1 800 000. */
export function duration(text: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text ?? '');
  if (!m) throw new Error(`not a duration: ${text} (use e.g. 30m, 45s, 6h)`);
  return Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as 'ms']!;
}

/** "256MB" -> 268 435 456 (KB, MB, GB are powers of 1024; KiB, MiB, GiB too). */
export function size(text: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)$/i.exec(text ?? '');
  if (!m) throw new Error(`not a size: ${text} (use e.g. 256MB, 2GB)`);
  const unit = m[2].toUpperCase().replace('IB', 'B');
  return Math.round(Number(m[1]) * { B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30 }[unit as 'B']!);
}

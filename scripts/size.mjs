// The size budget of the shipped script-tag build: fails `npm test` when exceeded.
// Every byte of dist/sessionbeacon.min.js is paid by every visitor of every site.
// With --modules it also prints where the bytes are, module by module, from the
// build's source map (the table in README.md, "Size").
import { readFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync } from 'node:zlib';

// Issue 14 asks for 6 KB (6 144 B) again; not reached yet (README, "Size": 8 700 B).
// 8.5 KB, where it stood: 8 700 B with the opt-out fixes found by review. 6 KB once the weight work lands, never raised again.
const BUDGETS = [{ file: "dist/sessionbeacon.min.js", gzip: 8640 }];

const gzip = (buf) => gzipSync(buf, { level: 9 }).length;

let failed = false;
for (const { file, gzip: budget } of BUDGETS) {
  const buf = readFileSync(file);
  const gz = gzip(buf);
  const br = brotliCompressSync(buf).length;
  const ok = gz <= budget;
  failed ||= !ok;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${file}: ${buf.length} B min, ${gz} B gzip (budget ${budget} B), ${br} B brotli`);
  if (process.argv.includes('--modules')) printModules(buf.toString('utf8'), JSON.parse(readFileSync(`${file}.map`, 'utf8')), gz);
}
process.exit(failed ? 1 : 0);

/**
 * Minified bytes per source module, read from the source map: each output
 * character belongs to the source of the mapping segment it follows. Its gzip
 * share is the module's part of the whole file's gzip size, in proportion to its
 * gzip size alone (gzip sizes do not add up: a module compresses better inside
 * the file, where its words repeat others').
 */
function printModules(code, map, totalGzip) {
  const lines = code.split('\n');
  const bySource = new Map();
  let source = 0;
  let line = 0;
  for (const [row, segments] of decodeMappings(map.mappings).entries()) {
    const text = lines[row] ?? '';
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i];
      if (seg.length >= 4) source = seg[1];
      line = seg.length >= 4 ? seg[2] : line;
      const end = i + 1 < segments.length ? segments[i + 1][0] : text.length;
      const name = seg.length >= 4 ? map.sources[source] : '(unmapped)';
      bySource.set(name, (bySource.get(name) ?? '') + text.slice(seg[0], end));
    }
  }
  const rows = [...bySource].map(([name, text]) => ({
    module: name.replace(/^(\.\.\/)+/, '').replace(/^node_modules\//, ''),
    min: Buffer.byteLength(text),
    alone: gzip(Buffer.from(text)),
  }));
  const sumAlone = rows.reduce((n, r) => n + r.alone, 0);
  rows.sort((a, b) => b.min - a.min);
  console.log('module | minified B | gzip B (share)');
  for (const r of rows) console.log(`${r.module} | ${r.min} | ${Math.round((r.alone / sumAlone) * totalGzip)}`);
}

/** Source map v3 mappings: per generated line, segments [column, source, line, column, name?] with absolute values. */
function decodeMappings(mappings) {
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const state = [0, 0, 0, 0, 0];
  return mappings.split(';').map((line) => {
    state[0] = 0;
    return line
      .split(',')
      .filter(Boolean)
      .map((segment) => {
        const values = [];
        let value = 0;
        let shift = 0;
        for (const ch of segment) {
          const digit = B64.indexOf(ch);
          value += (digit & 31) << shift;
          if (digit & 32) shift += 5;
          else {
            values.push(value & 1 ? -(value >>> 1) : value >>> 1);
            value = shift = 0;
          }
        }
        return values.map((v, i) => (state[i] += v));
      });
  });
}

// The size budget of the shipped script-tag build: fails `npm test` when exceeded.
// Every byte of dist/sessionbeacon.min.js is paid by every visitor of every site.
import { readFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync } from 'node:zlib';

// 6 KB for the client of issue 2; 7.5 KB since issue 3's delivery guarantees (README, "Size").
const BUDGETS = [{ file: 'dist/sessionbeacon.min.js', gzip: 7.5 * 1024 }];

let failed = false;
for (const { file, gzip } of BUDGETS) {
  const buf = readFileSync(file);
  const gz = gzipSync(buf, { level: 9 }).length;
  const br = brotliCompressSync(buf).length;
  const ok = gz <= gzip;
  failed ||= !ok;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${file}: ${buf.length} B min, ${gz} B gzip (budget ${gzip} B), ${br} B brotli`);
}
process.exit(failed ? 1 : 0);

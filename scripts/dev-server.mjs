// `npm start`: serves examples/ and the built script, and prints every beacon it
// receives. The reference collector with its database replaces this in issue 5.
import { startBeaconServer } from '../e2e/support/beacon-server.mjs';

const port = Number(process.env.PORT ?? 8787);
const server = await startBeaconServer({ port, mounts: { '/dist/': 'dist', '/': 'examples' } });
server.onBatch = (batch) => {
  for (const e of batch.events) {
    const what = e.type === 'track' ? `track ${e.name}` : e.type === 'page_view' ? `page_view ${e.url}` : `${e.type} activeTime=${e.activeTime}ms`;
    console.log(`${new Date(e.ts).toISOString()}  visit ${e.visitId.slice(0, 6)}  tab ${e.tabId.slice(0, 6)}  page ${e.pageId.slice(0, 6)}  ${what}`);
  }
};
console.log(`sessionbeacon example: open ${server.origin}/ (beacons are printed here, and listed at ${server.origin}/beacons)`);

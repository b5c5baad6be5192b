// A back end using the collector's API, type-checked as ESM (typed.ts) and CommonJS (typed.cts).
import { sessionize, type ReceivedRequest, type SessionRow } from 'sessionbeacon-server';

const requests: ReceivedRequest[] = [];
const rows: SessionRow[] = sessionize(requests);
const pages: number = rows.reduce((n, row) => n + row.pageViewsCount, 0);
export { pages };

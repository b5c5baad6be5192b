#!/usr/bin/env node
// The `sessionbeacon` command (see src/server/cli.ts); needs `npm run build` in a checkout.
import { main } from '../dist/cli.mjs';

process.exitCode = await main(process.argv.slice(2));

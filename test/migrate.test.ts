// @vitest-environment node
// Collectors of a fleet start together: each migrates the same fresh database at once.
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openPostgres } from '../src/server';
import { LATEST_VERSION } from '../src/server/collector/migrations';
import { postgresAvailable, postgresBackend } from './support/databases';

describe.runIf(postgresAvailable() || process.env.CI)('migrations run by several processes at once', () => {
  const backend = postgresBackend();
  afterAll(() => backend.stop());

  it('apply once, with no error, on a fresh PostgreSQL database (the schema is created under the migrators\u2019 lock)', async () => {
    const url = await backend.createDatabase();
    const dbs = await Promise.all(Array.from({ length: 6 }, () => openPostgres(url)));
    try {
      const applied = await Promise.all(dbs.map((db) => migrate(db)));
      expect(applied.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
      const rows = await dbs[0].query<{ version: number }>('SELECT version FROM atomic.migrations ORDER BY version');
      expect(rows.rows.map((r) => r.version)).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  }, 60_000);
});

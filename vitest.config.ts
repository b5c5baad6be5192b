import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'happy-dom',
    include: ['test/**/*.test.ts'],
    // happy-dom has no IndexedDB: fake-indexeddb stands in for idb-keyval's tests.
    setupFiles: ['fake-indexeddb/auto'],
    restoreMocks: true,
  },
});

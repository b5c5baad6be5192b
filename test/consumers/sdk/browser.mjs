// A bundler's entry: bundled by rollup with node-resolve in browser mode.
import { createTracker } from 'sessionbeacon';

createTracker({ endpoint: '/collect', projectId: 42 }).track('bundled');

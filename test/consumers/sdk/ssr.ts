// Server-side rendering: a TypeScript project without the DOM library (lib ES2022 only).
import { createTracker } from 'sessionbeacon';

const tracker = createTracker({ endpoint: '/collect' }); // inert where there is no DOM
tracker.track('rendered');
export default tracker;

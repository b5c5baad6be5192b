// A site's code, type-checked in every module mode (typed.ts is ESM here, typed.cts and cjs/typed.ts CommonJS).
import { createTracker, LIMITS, PROTOCOL_VERSION, type Ids, type TrackEvent, type Tracker, type TrackerOptions } from 'sessionbeacon';

const options: TrackerOptions = { endpoint: '/collect', projectId: 42 };
const tracker: Tracker = createTracker(options);
tracker.track('add_to_cart', { sku: 'A1' });
tracker.identify('user-123');
const ids: Partial<Ids> = tracker.ids;
const flushed: Promise<void> = tracker.flush();
const limit: number = LIMITS.url;
const version: 1 = PROTOCOL_VERSION;
const isSignUp = (e: TrackEvent): boolean => e.name === 'sign_up';
// @ts-expect-error: an event's name is a string
tracker.track(42);
export { ids, flushed, limit, version, isSignUp };

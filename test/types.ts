// Type tests: compiled by `npm run typecheck`, never run. Each @ts-expect-error
// must stay an error, or tsc fails ("Unused '@ts-expect-error' directive").
import { createTracker, type Tracker, type WireEvent } from '../src/client/index';

const tracker: Tracker = createTracker({ endpoint: '/collect' });
createTracker({ endpoint: '/collect', projectId: 42, consent: 'pending', cookieDomain: 'example.com' });

// @ts-expect-error: endpoint is required
createTracker({});
// @ts-expect-error: consent is 'granted' or 'pending'
createTracker({ endpoint: '/c', consent: 'yes' });
// @ts-expect-error: a timeout is a number of ms
createTracker({ endpoint: '/c', inactivityTimeout: '30m' });

tracker.track('signup', { plan: 'pro' });
// @ts-expect-error: an event needs a name
tracker.track();
tracker.identify('user-1');
tracker.identify(42);
// @ts-expect-error: identityId is a string or a number
tracker.identify({ id: 1 });

const done: Promise<void> = tracker.flush();
void done;
const deviceId: string | undefined = tracker.ids.deviceId;
void deviceId;
// @ts-expect-error: ids are read-only
tracker.ids = {};

// The wire types discriminate on `type`.
function describe(e: WireEvent): string {
  switch (e.type) {
    case 'page_view':
      return e.url;
    case 'track':
      return e.name;
    case 'page_leave':
    case 'page_ping':
      return String(e.activeTime);
    case 'identify':
      return e.identityId;
  }
}
void describe;

import { describe, expect, it, vi } from 'vitest';
import { DENIED, GRANTED, PENDING, initialConsent, onConsentElsewhere, rememberConsent } from '../src/client/consent';
import { memoryArea } from './helpers';

const decisions = () => ({ local: memoryArea(), cookie: memoryArea() });
const nav = (gpc?: boolean) => ({ globalPrivacyControl: gpc }) as unknown as Navigator;

describe('consent', () => {
  it('starts from the stored decision, then Global Privacy Control, then the option', () => {
    const d = decisions();
    expect(initialConsent(d, 'granted', true, nav())).toBe(GRANTED);
    expect(initialConsent(d, 'pending', true, nav())).toBe(PENDING);
    expect(initialConsent(d, 'granted', true, nav(true))).toBe(DENIED);
    expect(initialConsent(d, 'granted', false, nav(true))).toBe(GRANTED);
    rememberConsent(d, true);
    expect(initialConsent(d, 'pending', true, nav(true))).toBe(GRANTED); // an explicit optIn beats GPC
    rememberConsent(d, false);
    expect(initialConsent(d, 'granted', true, nav())).toBe(DENIED);
    d.local.del('sb_consent');
    expect(initialConsent(d, 'granted', true, nav())).toBe(DENIED); // the cookie copy
  });

  it("hears another tab's decision, and only its decision", () => {
    const cb = vi.fn();
    const off = onConsentElsewhere(window, cb);
    const fire = (key: string, newValue: string | null) => window.dispatchEvent(new StorageEvent('storage', { key, newValue }));
    fire('sb_consent', '0');
    fire('sb_consent', '1');
    fire('sb_consent', 'junk');
    fire('sb_id', '1');
    fire('sb_consent', null);
    off();
    fire('sb_consent', '0');
    expect(cb.mock.calls).toEqual([[false], [true]]);
  });
});

import { DENIED, type ConsentState } from './consent';

/**
 * Cookieless mode (the `cookieless` option; README, "Cookieless mode"): whether
 * the events stamped now go without the IDs that need storage on the device.
 * A cookieless event carries no deviceId, anonymousId, identityId, visitId or
 * sessionId, only its tabId and pageId, which live in the page's memory; that
 * absence is its mark (batch.ts sends it in a body that says `"cookieless": true`,
 * and the collector derives the device: docs/collector.md, "Cookieless mode").
 * While the tracker is cookieless it stores nothing (tracker.ts asks before
 * every write, as for consent).
 *
 * `true`: always, unless the visitor refused (an opt-out, or Global Privacy
 * Control): then nothing is sent at all, as without the option, because no
 * storage is left to refuse. `'until-consent'`: until consent is given, and
 * again after an opt-out (the contract's "cookieless while consent is pending
 * or refused"). `false`: never. (GRANTED is 0 and DENIED the largest: consent.ts.)
 */
export const isCookieless = (option: boolean | 'until-consent' | undefined, consent: ConsentState): boolean =>
  option === true ? consent < DENIED : !!(option && consent);

/**
 * identify() is refused while cookieless: an identity is personal data that the
 * site then holds by its own choice, so it has no place in a batch whose point
 * is that nothing ties it to a person (the collector refuses such a batch too).
 */
export const refuseIdentify = (): void =>
  console.warn('sessionbeacon: cookieless: no identify()');

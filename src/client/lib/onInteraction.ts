import { listen, offAll, type Off } from './listen';

/** The interactions that count as activity (model.md): pointer, key, scroll, touch. */
const DISCRETE = ['pointerdown', 'keydown'];
const CONTINUOUS = ['scroll', 'wheel', 'touchstart', 'pointermove'];

/**
 * Fires on every real interaction of the person with the page. `discrete` is true
 * for a click or key press (a user action), false for scrolling and moving.
 * Listeners are passive and on the capture phase, so a page that stops
 * propagation still counts as used, and nothing slows its scrolling.
 */
export function onInteraction(win: Window, cb: (discrete: boolean) => void): Off {
  const offs = [
    ...DISCRETE.map((type) => listen(win, type, () => cb(true), true)),
    ...CONTINUOUS.map((type) => listen(win, type, () => cb(false), true)),
  ];
  return offAll(offs);
}

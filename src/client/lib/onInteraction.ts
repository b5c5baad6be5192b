import { listen, type Off } from './listen';

/**
 * The interactions that count as activity (model.md): pointer, key, scroll, touch.
 * The discrete ones (a click or key press) are the two whose names end in "down".
 */
const INTERACTIONS = 'pointerdown keydown scroll wheel touchstart pointermove';

/**
 * Fires on every real interaction of the person with the page. `discrete` is true
 * for a click or key press (a user action), false for scrolling and moving.
 * Listeners are passive and on the capture phase, so a page that stops
 * propagation still counts as used, and nothing slows its scrolling.
 */
export function onInteraction(win: Window, cb: (discrete: boolean) => void): Off {
  return listen(win, INTERACTIONS, (e) => cb(e.type.endsWith('down')), true);
}

import { listen, type Off } from './listen';

/** Fires when the window gains (true) or loses (false) the keyboard focus. */
export function onFocusChange(win: Window, cb: (focused: boolean) => void): Off {
  return listen(win, 'focus blur', (e) => cb(e.type === 'focus'));
}

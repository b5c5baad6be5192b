import { listen, offAll, type Off } from './listen';

/** Fires when the window gains (true) or loses (false) the keyboard focus. */
export function onFocusChange(win: Window, cb: (focused: boolean) => void): Off {
  const offs = [listen(win, 'focus', () => cb(true)), listen(win, 'blur', () => cb(false))];
  return offAll(offs);
}

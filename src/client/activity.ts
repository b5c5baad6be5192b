/**
 * activeTime of one page (model.md): the milliseconds during which the page was
 * visible, the window had focus, and the last interaction was less than
 * `idleAfter` ms ago. Pure arithmetic on the times it is given, no timers: the
 * time from an interaction to the idle cut-off is counted when it is read, so the
 * figure is exact to the millisecond whenever it is read.
 */
export interface ActiveTime {
  /** The person interacted at `t` (pointer, key, scroll, touch, page shown); `discrete` for a click or key press. */
  interaction(t: number, discrete?: boolean): void;
  /** The page became visible and focused (true) or stopped being either (false) at `t`. */
  setEngaged(engaged: boolean, t: number): void;
  /** activeTime up to `t`, ms. */
  value(t: number): number;
  /** Clicks and key presses on this page (userActionsCount). */
  userActions: number;
}

/** Starts measuring at `start`, the page view, which counts as an interaction: the person just arrived. */
export function activeTime(idleAfter: number, start: number, engaged: boolean): ActiveTime {
  let total = 0;
  let lastInteraction = start;
  /** Start of the stretch being counted, or undefined when not engaged. */
  let since: number | undefined = engaged ? start : undefined;
  const running = (t: number) => (since === undefined ? 0 : Math.max(0, Math.min(t, lastInteraction + idleAfter) - since));
  const settle = (t: number) => {
    total += running(t);
    since = undefined;
  };
  const self: ActiveTime = {
    userActions: 0,
    interaction(t, discrete) {
      settle(t);
      if (t > lastInteraction) lastInteraction = t;
      if (discrete) self.userActions++;
      if (engaged) since = t;
    },
    setEngaged(now, t) {
      settle(t);
      engaged = now;
      if (now && t - lastInteraction < idleAfter) since = t;
    },
    value: (t) => Math.round(total + running(t)),
  };
  return self;
}

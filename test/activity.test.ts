import { describe, expect, it } from 'vitest';
import { activeTime } from '../src/client/activity';

const IDLE = 30_000;

describe('activeTime', () => {
  it('counts from the page view until the idle threshold when nothing else happens', () => {
    const a = activeTime(IDLE, 1000, true);
    expect(a.value(1000)).toBe(0);
    expect(a.value(1000 + 12_345)).toBe(12_345);
    expect(a.value(1000 + IDLE - 1)).toBe(IDLE - 1);
    // Idle: the clock goes on, activeTime does not.
    expect(a.value(1000 + IDLE)).toBe(IDLE);
    expect(a.value(1000 + 10 * IDLE)).toBe(IDLE);
  });

  it('extends the active stretch with each interaction, to the millisecond', () => {
    const a = activeTime(IDLE, 0, true);
    a.interaction(20_000);
    a.interaction(45_000);
    expect(a.value(45_000)).toBe(45_000);
    expect(a.value(45_000 + IDLE + 5_000)).toBe(45_000 + IDLE);
  });

  it('does not count a gap longer than the idle threshold between interactions', () => {
    const a = activeTime(IDLE, 0, true);
    // Idle from 30 000 until the interaction at 100 000.
    a.interaction(100_000);
    expect(a.value(110_000)).toBe(IDLE + 10_000);
  });

  it('stops while hidden or unfocused and restarts only with engagement', () => {
    const a = activeTime(IDLE, 0, true);
    a.setEngaged(false, 10_000); // hidden
    expect(a.value(20_000)).toBe(10_000);
    a.interaction(15_000); // an event while hidden does not count time
    expect(a.value(25_000)).toBe(10_000);
    a.setEngaged(true, 25_000); // shown, last interaction 10 s ago: counts again
    expect(a.value(30_000)).toBe(15_000);
    expect(a.value(25_000 + 60_000)).toBe(10_000 + (15_000 + IDLE - 25_000));
  });

  it('does not restart on visibility alone after the person went idle', () => {
    const a = activeTime(IDLE, 0, true);
    a.setEngaged(false, 5_000);
    a.setEngaged(true, 5_000 + IDLE + 1);
    expect(a.value(200_000)).toBe(5_000);
    a.interaction(200_000);
    expect(a.value(201_000)).toBe(6_000);
  });

  it('starts at zero when the page is not engaged at its start', () => {
    const a = activeTime(IDLE, 0, false);
    expect(a.value(10_000)).toBe(0);
    a.setEngaged(true, 10_000);
    expect(a.value(12_000)).toBe(2_000);
  });

  it('counts discrete interactions as user actions', () => {
    const a = activeTime(IDLE, 0, true);
    a.interaction(1, true);
    a.interaction(2, false);
    a.interaction(3, true);
    expect(a.userActions).toBe(2);
  });
});

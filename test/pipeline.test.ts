import { describe, expect, it } from 'vitest';
import { createPipeline } from '../src/client/pipeline';

describe('pipeline', () => {
  it('runs ops in order once started; an op waiting for the visit lock holds the ones after it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const visit = {
      current: undefined as { visitId: string; start: number; last: number } | undefined,
      touch(ts: number) {
        // Like visit.ts: the lock is needed once; after it, this tab's own activity proves the visit alive.
        if (ts === 2 && visit.current!.last < 2) return gate.then(() => (visit.current = { visitId: 'v', start: 1, last: ts }));
        return (visit.current = { visitId: 'v', start: 1, last: ts });
      },
      touchNow: (ts: number) => (visit.current = { visitId: 'v', start: 1, last: ts }),
    };
    const ran: number[] = [];
    const p = createPipeline(visit as never, () => {});
    p.op(1, true, () => ran.push(1));
    expect(ran).toEqual([]); // the IDs are not known yet
    p.start();
    p.op(2, true, () => ran.push(2));
    p.op(3, false, () => ran.push(3));
    expect(ran).toEqual([1]);
    const drained = p.drained();
    release();
    await drained;
    expect(ran).toEqual([1, 2, 3]);
  });
});

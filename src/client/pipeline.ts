import type { Visit } from './visit';

/** One call or interaction, with the moment it happened. */
interface Op {
  ts: number;
  /** Activity (model.md) starts or extends the visit; page_leave and page_ping do not. */
  active: boolean;
  run?: () => void;
}

export interface Pipeline {
  /** Queues an op; it runs at once unless the IDs are not known yet or an earlier op waits for a lock. */
  op(ts: number, active: boolean, run?: () => void): void;
  /** The IDs are known: queued ops may run. */
  start(): void;
  /** The page is leaving: every queued op runs now, with what is known (no waiting for a lock). */
  runAll(): void;
  /** Resolves once every op queued so far has run. */
  drained(): Promise<void>;
}

/**
 * The ordered pipeline every event goes through: each public call and each
 * interaction is an op with the time it happened, and ops run in that order.
 * Most run synchronously; one whose visit must be decided under the Web Lock
 * (visit.ts) waits, and the ops after it wait with it, so events keep their order
 * and each carries the visit of its own moment. `beforeLeaving` runs before a
 * leaving page's ops (it makes sure the identity exists).
 */
export function createPipeline(visit: Visit, beforeLeaving: () => void): Pipeline {
  const ops: Op[] = [];
  let ready = false;
  /** The op waiting for a Web Lock, while one waits. */
  let waiting: Promise<void> | undefined;

  const pump = (leaving = false): void => {
    if (!leaving && (!ready || waiting)) return;
    if (leaving) beforeLeaving();
    while (ops.length) {
      const next = ops[0];
      const v = next.active || !visit.current ? (leaving ? visit.touchNow(next.ts) : visit.touch(next.ts)) : visit.current;
      if (v instanceof Promise) {
        waiting = v.then(() => {
          waiting = undefined;
          pump();
        });
        return;
      }
      ops.shift();
      next.run?.();
    }
  };

  const drained = (): Promise<void> => (waiting ? waiting.then(drained) : Promise.resolve());

  return {
    op(ts, active, run) {
      ops.push({ ts, active, run });
      pump();
    },
    start() {
      ready = true;
      pump();
    },
    runAll: () => pump(true),
    drained,
  };
}

/**
 * The script-tag build (dist/sessionbeacon.min.js). Reads its options from the
 * `data-*` attributes of its own <script> tag, replays the calls queued by the
 * one-line stub, in order and with the page of the moment they were made, then
 * replaces the stub with the real function:
 *
 *   <script>window.sessionbeacon=window.sessionbeacon||function(){(sessionbeacon.q=sessionbeacon.q||[]).push([arguments,Date.now(),location.href,document.title])}</script>
 */
import { browserEnv, startTracker } from './tracker';
import { attempt } from './lib/attempt';
import { fromStub, optionsFromDataset, type Stub } from './stub';

// attempt(): never into the page.
attempt(() => {
  const w = window as unknown as { sessionbeacon?: Stub };
  const options = optionsFromDataset((document.currentScript as HTMLScriptElement | null)?.dataset);
  const core = startTracker(options, browserEnv(window, options), fromStub(w.sessionbeacon));
  // Refused (the tag twice on one page): the first tag's function stays.
  if (core)
    w.sessionbeacon = (method: unknown, ...args: unknown[]) =>
      attempt(() => {
        const result = core.call(String(method), args);
        return result instanceof Promise ? result.catch(() => {}) : result;
      });
});

/**
 * SIGINT and SIGTERM (a CronJob's pod gets SIGTERM): the first aborts the running operation through
 * the AbortSignal every library call gets, so it stops between steps, releases its lock and commits
 * nothing; the command then exits 130. A second signal exits at once (130): the lock is left to go
 * stale, nothing half-written is visible either way, since a snapshot exists only once its
 * manifest does.
 */
import { EXIT_CODES } from './exit-codes.js';

export interface Interrupts {
  readonly signal: AbortSignal;
  /** The signal received, once one was. */
  readonly received: NodeJS.Signals | undefined;
  /** Removes the handlers. */
  dispose(): void;
}

export function handleInterrupts(onFirst: (sig: NodeJS.Signals) => void, exit: (code: number) => void = process.exit): Interrupts {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals): void => {
    if (received !== undefined) return exit(EXIT_CODES.INTERRUPTED);
    received = sig;
    onFirst(sig);
    controller.abort(new Error(`received ${sig}`));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const s of signals) process.on(s, handler);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose: () => {
      for (const s of signals) process.off(s, handler);
    },
  };
}

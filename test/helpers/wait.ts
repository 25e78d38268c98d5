/** Polls `cond` every `everyMs` until it holds; rejects naming `what` after `ms`. */
export function until(cond: () => boolean, ms = 15_000, what = 'condition', everyMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`${what} not met within ${ms} ms`));
      setTimeout(tick, everyMs);
    };
    tick();
  });
}

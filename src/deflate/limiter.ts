/**
 * Runs at most `concurrency` asynchronous jobs at once, the rest in arrival order: the
 * thread pool is shared with the file system and DNS, and each running zlib call holds a
 * state and an output buffer, so a burst of large messages must queue, not pile up.
 */
export class Limiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    }
  }

  /** Runs `job` when a slot is free; `job` calls the function it is given when it is done. */
  run(job: (done: () => void) => void): void {
    if (this.running < this.concurrency) this.start(job);
    else this.waiting.push(() => this.start(job));
  }

  private start(job: (done: () => void) => void): void {
    this.running++;
    let finished = false;
    job(() => {
      if (finished) return;
      finished = true;
      this.running--;
      this.waiting.shift()?.();
    });
  }
}

/**
 * The requests a server is answering, so that shutdown can let them finish, and stop those still
 * running when its deadline passes.
 */
export interface DrainReport {
  /** Requests that were running when the drain began. */
  readonly inFlight: number;
  /** Of those, the ones still running at the deadline and stopped. */
  readonly stopped: number;
}

export class InFlightRequests {
  private readonly active = new Set<Promise<void>>();
  private readonly stopper = new AbortController();

  /** Aborted when a drain's deadline passes: every request's generation listens to it. */
  get stopSignal(): AbortSignal {
    return this.stopper.signal;
  }

  get size(): number {
    return this.active.size;
  }

  track(work: Promise<void>): void {
    const settled = work.catch(() => undefined);
    this.active.add(settled);
    void settled.then(() => this.active.delete(settled));
  }

  /**
   * Waits up to `deadlineMs` for the running requests; then stops the rest and waits for them to
   * answer (a stopped generation ends its response cleanly), at most `stopGraceMs` more.
   */
  async drain(deadlineMs: number, stopGraceMs = 5_000): Promise<DrainReport> {
    const inFlight = this.active.size;
    const finished = await settlesWithin(Promise.all(this.active), deadlineMs);
    if (finished) return { inFlight, stopped: 0 };
    const stopped = this.active.size;
    this.stopper.abort();
    await settlesWithin(Promise.all(this.active), stopGraceMs);
    return { inFlight, stopped };
  }
}

async function settlesWithin(work: Promise<unknown>, milliseconds: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, milliseconds))));
  try {
    return await Promise.race([work.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One place that owns SIGINT and SIGTERM for the CLI. Commands push a handler for the time they
 * can stop gracefully (abort a generation, shut a server down); with none pushed, the process exits
 * through process.exit, so 'exit' hooks (such as removing half-written files) still run.
 */
const handlers: Array<(signal: NodeJS.Signals) => void> = [];

export function installSignalHandlers(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      const handler = handlers.at(-1);
      if (handler) handler(signal);
      else process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}

/** Runs `work` with `handler` answering interrupts; the previous handling returns afterwards. */
export async function withInterruptHandler<T>(handler: (signal: NodeJS.Signals) => void, work: () => Promise<T>): Promise<T> {
  handlers.push(handler);
  try {
    return await work();
  } finally {
    handlers.splice(handlers.lastIndexOf(handler), 1);
  }
}

export class Interrupted extends Error {
  override readonly name = "Interrupted";
}

/**
 * Runs work that takes an AbortSignal; Ctrl-C (or SIGTERM) aborts it. Resolves to the work's value, or
 * to "interrupted" once the work has stopped, so the command can say what was kept and exit with 130.
 */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T | "interrupted"> {
  const controller = new AbortController();
  try {
    return await withInterruptHandler(() => controller.abort(new Interrupted("interrupted")), () => work(controller.signal));
  } catch (error) {
    if (controller.signal.aborted) return "interrupted";
    throw error;
  }
}

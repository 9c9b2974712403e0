// What the lab started (switches, agents, controllers, etcd members, probes), stopped when the
// process that started it is interrupted. A benchmark stopped with Ctrl-C would otherwise leave
// its switches and a probe at 500 packets a second running, and slow every later measurement.
// Parts register their teardown while they live; `tearDownOnSignals` (benchmarks, command-line
// tools, and each test file's process through test/helpers/teardown-on-signals.ts) runs what is
// registered, newest first, on SIGINT or SIGTERM.

const live = new Set<() => Promise<void>>();
let installed = false;

/** Registers `teardown`; the function returned runs it and unregisters it (the part's own cleanup). */
export function whileAlive(teardown: () => Promise<void>): () => Promise<void> {
  live.add(teardown);
  return () => {
    live.delete(teardown);
    return teardown();
  };
}

/** Runs every registered teardown, newest first; one that fails does not stop the others. */
export async function tearDownAll(): Promise<void> {
  const teardowns = [...live].reverse();
  live.clear();
  for (const t of teardowns) await t().catch((err) => console.error('teardown failed:', err));
}

/**
 * On SIGINT or SIGTERM: tear down what is registered, then exit as the first signal would have.
 * Ctrl-C reaches npm and the shell as well, which pass on a SIGTERM: that one waits for the same
 * teardown rather than cutting it short.
 */
export function tearDownOnSignals(): void {
  if (installed) return;
  installed = true;
  let stopping: Promise<void> | undefined;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      if (stopping) return;
      console.error(`${signal}: stopping what the lab started`);
      stopping = tearDownAll().finally(() => process.exit(code));
    });
  }
}

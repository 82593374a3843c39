// A watcher process started as the stack starts one, timed from the spawn to leading with a warm index:
// /readyz answering 200 (every index has listed) and spot_orchestrator_is_leader at 1.
import { metricValue, type Stack } from "../../harness/stack/stack.ts";
import { freePort, startOrchestrator, type OrchestratorProcess } from "../../harness/stack/process.ts";
import { pollUntil } from "./pollUntil.ts";
import { metricsText } from "./watcherProbe.ts";

export interface TimedWatcher {
  process: OrchestratorProcess;
  healthPort: number;
  pid: number;
  /** Milliseconds from the spawn to leading with a warm index. */
  startMs: number;
}

export async function startTimedWatcher(
  stack: Stack,
  name: string,
  env: Record<string, string>,
  logDir: string,
): Promise<TimedWatcher> {
  const healthPort = await freePort();
  const started = performance.now();
  const process = startOrchestrator(name, ["watcher", "--health-port", `${healthPort}`], {
    env: { ...stack.watcherEnvironment, POD_NAME: name, ...env },
    logDir,
  });
  let exited: number | null | undefined;
  void process.exited.then((code) => (exited = code));
  const leading = async () => {
    if (exited !== undefined) throw new Error(`${name} exited with ${exited}; see ${process.logFile}`);
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
      (res) => res.ok,
      () => false,
    );
    return ready && metricValue(await metricsText(healthPort), "spot_orchestrator_is_leader") === 1;
  };
  try {
    await pollUntil(`${name} to lead with a warm index`, leading, { timeoutMs: 120_000, intervalMs: 20 });
  } catch (err) {
    await process.stop();
    throw err;
  }
  const pid = process.child.pid;
  if (pid === undefined) throw new Error(`${name} has no pid`);
  return { process, healthPort, pid, startMs: performance.now() - started };
}

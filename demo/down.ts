// `npm run demo:down`: stops every recorded demo run. A running demo (e.g. `--keep`) gets SIGTERM and cleans
// up after itself; for one that died, its leftovers are removed here from its record.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { loadKubeConfig } from "../harness/cluster/kubeconfig.ts";
import { errorMessage } from "../harness/cluster/wait.ts";
import { cleanUpCluster, releaseDeadFargateWebhook } from "./cleanup.ts";
import { isAlive, recordedRuns, type DemoState } from "./state.ts";

async function stopRun(path: string, state: DemoState): Promise<boolean> {
  if (state.pid !== process.pid && isAlive(state.pid)) {
    console.log(`demo ${state.namespace}: stopping pid ${state.pid} ...`);
    process.kill(state.pid, "SIGTERM");
    const deadline = Date.now() + 90_000;
    while (isAlive(state.pid) && Date.now() < deadline) await sleep(250);
    if (isAlive(state.pid)) {
      console.error(`demo ${state.namespace}: pid ${state.pid} is still running after 90s; stop it by hand`);
      return false;
    }
    if (!existsSync(path)) {
      console.log(`demo ${state.namespace}: stopped and cleaned up`);
      return true;
    }
  }
  console.log(`demo ${state.namespace}: not running; removing what it left behind`);
  await stopProcesses(state.processes.filter((pid) => isAlive(pid) && isOrchestrator(pid)));
  const kc = loadKubeConfig(state.kubeconfigPath);
  const problems = await cleanUpCluster(kc, state);
  if (await releaseDeadFargateWebhook(kc)) console.log("  removed the Fargate webhook of its dead emulator");
  for (const problem of problems) console.error(`  ${problem}`);
  if (problems.length > 0) return false;
  rmSync(path, { force: true });
  console.log(`demo ${state.namespace}: cleaned up`);
  return true;
}

/** SIGTERM, then SIGKILL for those still running after 15 s. */
async function stopProcesses(pids: number[]): Promise<void> {
  for (const pid of pids) process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 15_000;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(250);
  for (const pid of pids.filter(isAlive)) process.kill(pid, "SIGKILL");
}

/** Only a process still running the orchestrator's CLI is ours to stop (pids get reused). */
function isOrchestrator(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("cli/main.ts");
  } catch {
    return false;
  }
}

const runs = recordedRuns();
if (runs.length === 0) console.log("no demo is running");
let ok = true;
for (const { path, state } of runs) {
  try {
    ok = (await stopRun(path, state)) && ok;
  } catch (err) {
    console.error(`demo ${state.namespace}: ${errorMessage(err)}`);
    ok = false;
  }
}
process.exitCode = ok ? 0 : 1;

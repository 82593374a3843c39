// What users wait for: interruption event → every replica Ready off spot, on Fargate as slow as EKS, for
// N = 1, 10, 100 Deployments, each beside its floor (readyRun.ts). Runs with a Fargate emulator and profile of
// its own (benchFargate.ts) and a watcher of its own (below).
import type { KubeConfig } from "@kubernetes/client-node";
import { loadConfig, type Config } from "../../core/config.ts";
import { SETTINGS } from "../../core/settings.ts";
import type { Stack } from "../../harness/stack/stack.ts";
import type { StartupTime } from "../../harness/fargate/startup.ts";
import { startBenchFargate } from "./benchFargate.ts";
import type { RunContext } from "./interruptionRun.ts";
import { readyRun, type ReadyRunResult } from "./readyRun.ts";
import { startTimedWatcher } from "./watcherStart.ts";

export interface ReadyOptions {
  namespace: string;
  sizes: number[];
  runs: number[];
  replicas: number;
  startup: StartupTime;
  /** The benchmark's watcher settings, which this phase's watcher starts from. */
  watcherEnv: Record<string, string>;
  logDir: string;
  log: (line: string) => void;
  /** Registers a step the benchmark's cleanup runs if the phase is cut short (an interrupt). */
  onCleanup: (step: () => Promise<unknown>) => void;
}

export interface ReadySizeResult {
  n: number;
  runs: ReadyRunResult[];
}

export interface ReadyPhaseResult {
  startup: StartupTime;
  replicas: number;
  /** The phase's watcher: what it adds to the benchmark's watcher settings, and the intervals the verdict waits on. */
  watcherEnv: Record<string, string>;
  checkIntervalMs: number;
  verificationDelayMs: number;
  sizes: ReadySizeResult[];
}

const productDefault = (env: string) => SETTINGS.find((s) => s.env === env)?.default ?? "";

/**
 * The benchmark's watcher polls follow-ups every 30 s, which keeps the paused Deployments of the flip runs out
 * of those measurements; here the moves roll, and the verdict (rollout=healthy) waits for a poll after the
 * rollout and then for the verification delay, so this phase's watcher polls as the product does by default.
 * Recovery stays off: it would move the Deployments back to spot behind the benchmark's back. A queue of its
 * own: the stopped watcher's aborted long poll may still be parked on the old one (see memoryPhase.ts).
 */
function phaseWatcherEnv(queueUrl: string): Record<string, string> {
  return {
    CHECK_INTERVAL: productDefault("CHECK_INTERVAL"),
    VERIFICATION_DELAY: productDefault("VERIFICATION_DELAY"),
    RECOVERY_ENABLED: "false",
    SQS_QUEUE_URL: queueUrl,
  };
}

export async function readyPhase(
  kc: KubeConfig,
  stack: Stack,
  options: ReadyOptions,
): Promise<ReadyPhaseResult> {
  const { namespace, log } = options;
  const queueUrl = await stack.sqs.createQueue(`ready-${namespace}`, { VisibilityTimeout: "30" });
  const own = phaseWatcherEnv(queueUrl);
  const env = { ...options.watcherEnv, ...own };
  // what the watcher and the webhook will make of their settings: the intervals, the label the profile selects
  const config: Config = loadConfig({ env: { ...stack.watcherEnvironment, ...env } });
  const { computeLabelKey, fargateLabel } = config.compute;

  const fargate = await startBenchFargate(
    kc,
    namespace,
    { [computeLabelKey]: fargateLabel },
    options.startup,
  );
  options.onCleanup(() => fargate.stop());
  try {
    // one leader at a time: the benchmark's watcher gives up the Lease on a graceful stop
    await stack.watcher?.stop();
    const watcher = await startTimedWatcher(stack, "ready-watcher", env, options.logDir);
    options.onCleanup(() => watcher.process.stop());
    log(
      `ready: Fargate profile ${fargate.profile}; the phase's watcher led after ${watcher.startMs.toFixed(0)} ms`,
    );
    const ctx: RunContext = {
      kc,
      namespace,
      queue: { client: stack.sqsClient, url: queueUrl },
      watcher: { healthPort: watcher.healthPort, logFile: watcher.process.logFile },
    };
    try {
      const sizes = await timedSizes(ctx, options, config);
      return {
        startup: options.startup,
        replicas: options.replicas,
        watcherEnv: own,
        checkIntervalMs: config.monitoring.checkInterval,
        verificationDelayMs: config.migration.verificationDelay,
        sizes,
      };
    } finally {
      await watcher.process.stop();
    }
  } finally {
    await fargate.stop();
  }
}

async function timedSizes(
  ctx: RunContext,
  options: ReadyOptions,
  config: Config,
): Promise<ReadySizeResult[]> {
  const { startup, replicas, log } = options;
  const runOptions = {
    replicas,
    readyTimeoutMs: startup.meanMs + startup.jitterMs + 120_000,
    verdictTimeoutMs: 2 * config.monitoring.checkInterval + config.migration.verificationDelay + 60_000,
  };
  const sizes: ReadySizeResult[] = [];
  for (const [i, n] of options.sizes.entries()) {
    const runs: ReadyRunResult[] = [];
    for (let r = 0; r < options.runs[i]!; r++) {
      const result = await readyRun(ctx, n, `ready-n${n}-r${r}`, runOptions);
      runs.push(result);
      const all = Math.max(...result.readyMs);
      const floor = result.patchMs + Math.max(...result.emulatorMs);
      log(
        `ready N=${n} run ${r + 1}/${options.runs[i]}: all Ready on Fargate ${(all / 1000).toFixed(1)} s ` +
          `(floor ${(floor / 1000).toFixed(1)} s, ${(all / floor).toFixed(2)}×), all rollout=healthy ` +
          `${(Math.max(...result.verdictMs) / 1000).toFixed(1)} s, flipped in ${result.flipMs.toFixed(0)} ms`,
      );
    }
    sizes.push({ n, runs });
  }
  return sizes;
}

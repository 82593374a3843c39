import type { KubeConfig } from "@kubernetes/client-node";
import { startAdmissionServer } from "../cluster/admission-server.ts";
import { errorMessage } from "../cluster/wait.ts";
import { FargateAdmission } from "./admission.ts";
import { sweepFargateNodes } from "./fargate-nodes.ts";
import { eksLaunchRate, FargateLauncher } from "./launch-rate.ts";
import type { LaunchRate } from "./profiles.ts";
import { fargateProfiles } from "./profile-store.ts";
import { FargateQuota } from "./quota.ts";
import { registerFargateWebhook } from "./registration.ts";
import { instantStartup, type StartupTime } from "./startup.ts";

export { fargateWebhookName } from "./registration.ts";

export interface FargateEmulatorOptions {
  /** zones the Fargate nodes are spread over */
  zones?: string[];
  /** how often the emulator heartbeats and deletes Fargate nodes whose pod is gone */
  upkeepIntervalMs?: number;
  /** a Fargate node younger than this is kept even without a pod */
  nodeGraceMs?: number;
  /** binding to Ready, for profiles that set none (default: at once; EKS takes 30–90 s, see startup.ts) */
  startup?: StartupTime;
  /** the account's launch rate, shared by profiles that set none (default: AWS's, see launch-rate.ts) */
  launchRate?: LaunchRate;
}

export interface FargateEmulator {
  close(): Promise<void>;
}

/**
 * Emulates EKS Fargate: a pod-creation webhook applies the Fargate profiles (profile-store.ts), gives each
 * matching pod a Fargate node of its own and pins it there, rejects matching pods Fargate cannot run, leaves
 * Pending those over a profile's quotas, as the fargate-scheduler does (quota.ts), holds pods over the
 * account's launch rate unscheduled until their turn (launch-rate.ts) and has kwok keep each pod starting for
 * its start-up time (startup.ts).
 */
export async function startFargateEmulator(
  kc: KubeConfig,
  {
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    upkeepIntervalMs = 5_000,
    nodeGraceMs = 15_000,
    startup = instantStartup,
    launchRate = eksLaunchRate,
  }: FargateEmulatorOptions = {},
): Promise<FargateEmulator> {
  const quota = new FargateQuota(kc);
  const launcher = new FargateLauncher(kc, launchRate);
  const waiting = new WaitingReports(quota);
  const admission = new FargateAdmission({
    kc,
    profiles: fargateProfiles(kc),
    quota,
    launcher,
    zones,
    startup,
    onWaiting: () => waiting.reportSoon(),
  });
  const server = await startAdmissionServer((request) => admission.admit(request));
  const registration = await registerFargateWebhook(kc, {
    url: server.url("/mutate"),
    caBundle: server.caBundle,
  });
  const upkeep = new Upkeep(upkeepIntervalMs, async () => {
    await registration.upkeep();
    await sweepFargateNodes(kc, nodeGraceMs);
    await waiting.report();
    await launcher.releaseDue();
  });

  return {
    async close() {
      upkeep.stop();
      waiting.stop();
      await upkeep.idle();
      await waiting.idle();
      await registration.release();
      await launcher.close();
      await server.close();
    },
  };
}

/** The fargate-scheduler's Events on pods over a quota, one report at a time. */
class WaitingReports {
  private readonly quota: FargateQuota;
  private reporting = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(quota: FargateQuota) {
    this.quota = quota;
  }

  report(): Promise<void> {
    return (this.reporting = this.reporting
      .then(() => this.quota.reportWaiting())
      .catch((err: unknown) => {
        process.stderr.write(`[fargate] reporting pods over quota failed: ${errorMessage(err)}\n`);
      }));
  }

  /** The pod exists only once admitted: its Event follows a moment later (or at the next upkeep). */
  reportSoon(): void {
    for (const ms of [300, 2_000]) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.report();
      }, ms);
      this.timers.add(timer);
    }
  }

  /** Cancels the reports not started yet. */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
  }

  /** Resolves once the report under way (if any) is done. */
  idle(): Promise<void> {
    return this.reporting;
  }
}

/** The emulator's periodic work (registration heartbeat, node sweep, reports, launches), never two at once. */
class Upkeep {
  private upkeeping = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number, pass: () => Promise<void>) {
    this.timer = setInterval(() => {
      this.upkeeping = this.upkeeping.then(pass).catch((err: unknown) => {
        process.stderr.write(`[fargate] emulator upkeep failed: ${errorMessage(err)}\n`);
      });
    }, intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Resolves once the pass under way (if any) is done. */
  idle(): Promise<void> {
    return this.upkeeping;
  }
}

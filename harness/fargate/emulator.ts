import type { KubeConfig } from "@kubernetes/client-node";
import { startAdmissionServer } from "../cluster/admission-server.ts";
import { errorMessage } from "../cluster/wait.ts";
import { FargateAdmission } from "./admission.ts";
import { sweepFargateNodes } from "./fargate-nodes.ts";
import { eksLaunchRate, FargateLauncher, type LaunchRate } from "./launch-rate.ts";
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
  let reporting = Promise.resolve();
  const reportTimers = new Set<NodeJS.Timeout>();
  const reportWaiting = () =>
    (reporting = reporting
      .then(() => quota.reportWaiting())
      .catch((err: unknown) => {
        process.stderr.write(`[fargate] reporting pods over quota failed: ${errorMessage(err)}\n`);
      }));

  /** The pod exists only once admitted: its Event follows a moment later (or at the next upkeep). */
  function reportSoon(): void {
    for (const ms of [300, 2_000]) {
      const timer = setTimeout(() => {
        reportTimers.delete(timer);
        void reportWaiting();
      }, ms);
      reportTimers.add(timer);
    }
  }

  const admission = new FargateAdmission({
    kc,
    profiles: fargateProfiles(kc),
    quota,
    launcher,
    zones,
    startup,
    onWaiting: reportSoon,
  });
  const server = await startAdmissionServer((request) => admission.admit(request));
  const registration = await registerFargateWebhook(kc, {
    url: server.url("/mutate"),
    caBundle: server.caBundle,
  });

  let upkeeping = Promise.resolve();
  const timer = setInterval(() => {
    upkeeping = upkeeping
      .then(async () => {
        await registration.upkeep();
        await sweepFargateNodes(kc, nodeGraceMs);
        await reportWaiting();
        await launcher.releaseDue();
      })
      .catch((err: unknown) => {
        process.stderr.write(`[fargate] emulator upkeep failed: ${errorMessage(err)}\n`);
      });
  }, upkeepIntervalMs);

  return {
    async close() {
      clearInterval(timer);
      for (const t of reportTimers) clearTimeout(t);
      await upkeeping;
      await reporting;
      await registration.release();
      await launcher.close();
      await server.close();
    },
  };
}

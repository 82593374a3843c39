import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import {
  startAdmissionServer,
  type AdmissionDecision,
  type AdmissionRequest,
} from "../cluster/admission-server.ts";
import { errorMessage } from "../cluster/wait.ts";
import { createFargateNode, sweepFargateNodes } from "./fargate-nodes.ts";
import { decideFargate } from "./placement.ts";
import { fargateProfiles } from "./profile-store.ts";
import { FargateQuota } from "./quota.ts";
import { registerFargateWebhook } from "./registration.ts";

export { fargateWebhookName } from "./registration.ts";

export interface FargateEmulatorOptions {
  /** zones the Fargate nodes are spread over */
  zones?: string[];
  /** how often the emulator heartbeats and deletes Fargate nodes whose pod is gone */
  upkeepIntervalMs?: number;
  /** a Fargate node younger than this is kept even without a pod */
  nodeGraceMs?: number;
}

export interface FargateEmulator {
  close(): Promise<void>;
}

/**
 * Emulates EKS Fargate: a pod-creation webhook applies the Fargate profiles (profile-store.ts), gives each
 * matching pod a Fargate node of its own and pins it there, rejects matching pods Fargate cannot run, and
 * leaves Pending those over a profile's pod quota, as the fargate-scheduler does (quota.ts).
 */
export async function startFargateEmulator(
  kc: KubeConfig,
  {
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    upkeepIntervalMs = 5_000,
    nodeGraceMs = 15_000,
  }: FargateEmulatorOptions = {},
): Promise<FargateEmulator> {
  const profiles = fargateProfiles(kc);
  const quota = new FargateQuota(kc);
  let reporting = Promise.resolve();
  const reportTimers = new Set<NodeJS.Timeout>();
  const reportWaiting = () =>
    (reporting = reporting
      .then(() => quota.reportWaiting())
      .catch((err: unknown) => {
        process.stderr.write(`[fargate] reporting pods over quota failed: ${errorMessage(err)}\n`);
      }));
  // pods under a quota are admitted one at a time, so that pods created together are counted one by one
  let quotaTurn: Promise<unknown> = Promise.resolve();

  async function admit(request: AdmissionRequest): Promise<AdmissionDecision> {
    if (request.kind.kind !== "Pod" || request.operation !== "CREATE") return { allowed: true };
    const decision = decideFargate(request.object as V1Pod, request.namespace ?? "", await profiles.get());
    if (decision.outcome === "not-fargate") return { allowed: true };
    if (decision.outcome === "rejected") return { allowed: false, message: decision.message };
    // a dry run must not leave a node behind (the webhook declares sideEffects NoneOnDryRun)
    if (request.dryRun) return { allowed: true, patch: decision.patchFor("fargate-dry-run") };
    const { name, podQuota } = decision.profile;
    if (podQuota === undefined)
      return { allowed: true, patch: decision.patchFor(await createFargateNode(kc, zones)) };
    const admitted = quotaTurn.then(async (): Promise<AdmissionDecision> => {
      if ((await quota.placed(name)) >= podQuota) {
        reportSoon();
        return { allowed: true, patch: decision.waitingPatch() };
      }
      const nodeName = await createFargateNode(kc, zones);
      quota.reserve(name, nodeName);
      return { allowed: true, patch: decision.patchFor(nodeName) };
    });
    quotaTurn = admitted.catch(() => undefined);
    return admitted;
  }

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

  const server = await startAdmissionServer(admit);
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
      await server.close();
    },
  };
}

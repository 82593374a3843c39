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
 * matching pod a Fargate node of its own and pins it there, and rejects matching pods Fargate cannot run.
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

  async function admit(request: AdmissionRequest): Promise<AdmissionDecision> {
    if (request.kind.kind !== "Pod" || request.operation !== "CREATE") return { allowed: true };
    const decision = decideFargate(request.object as V1Pod, request.namespace ?? "", await profiles.get());
    if (decision.outcome === "not-fargate") return { allowed: true };
    if (decision.outcome === "rejected") return { allowed: false, message: decision.message };
    // a dry run must not leave a node behind (the webhook declares sideEffects NoneOnDryRun)
    const nodeName = request.dryRun ? "fargate-dry-run" : await createFargateNode(kc, zones);
    return { allowed: true, patch: decision.patchFor(nodeName) };
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
      })
      .catch((err: unknown) => {
        process.stderr.write(`[fargate] emulator upkeep failed: ${errorMessage(err)}\n`);
      });
  }, upkeepIntervalMs);

  return {
    async close() {
      clearInterval(timer);
      await upkeeping;
      await registration.release();
      await server.close();
    },
  };
}

// What the emulated EKS admission does with one pod: applies the Fargate profiles (placement.ts), and for a
// pod that goes to Fargate, checks the quotas, takes its launch token, draws its start-up time and makes its
// node.
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import type { AdmissionDecision, AdmissionRequest } from "../cluster/admission-server.ts";
import { createFargateNode } from "./fargate-nodes.ts";
import type { FargateLauncher } from "./launch-rate.ts";
import { decideFargate, type Launch } from "./placement.ts";
import type { FargateProfiles } from "./profile-store.ts";
import type { FargateProfile } from "./profiles.ts";
import { exceededLimit, fargateVcpu, type FargateQuota } from "./quota.ts";
import { drawStartupMs, type StartupTime } from "./startup.ts";

export interface FargateAdmissionParts {
  kc: KubeConfig;
  profiles: FargateProfiles;
  quota: FargateQuota;
  launcher: FargateLauncher;
  zones: readonly string[];
  /** for profiles that set none */
  startup: StartupTime;
  /** called when a pod is left waiting over a quota, whose Event is due */
  onWaiting: () => void;
}

export class FargateAdmission {
  private readonly parts: FargateAdmissionParts;
  /** Pods under a quota are admitted one at a time, so that pods created together are counted one by one. */
  private quotaTurn: Promise<unknown> = Promise.resolve();

  constructor(parts: FargateAdmissionParts) {
    this.parts = parts;
  }

  async admit(request: AdmissionRequest): Promise<AdmissionDecision> {
    if (request.kind.kind !== "Pod" || request.operation !== "CREATE") return { allowed: true };
    const pod = request.object as V1Pod;
    const decision = decideFargate(pod, request.namespace ?? "", await this.parts.profiles.get());
    if (decision.outcome === "not-fargate") return { allowed: true };
    if (decision.outcome === "rejected") return { allowed: false, message: decision.message };
    const { profile } = decision;
    // a dry run must not leave a node behind or take a token (the webhook declares sideEffects NoneOnDryRun)
    if (request.dryRun) return { allowed: true, patch: decision.patchFor("fargate-dry-run") };
    if (profile.podQuota === undefined && profile.vcpuQuota === undefined) {
      const { node, launch } = await this.launch(profile);
      return { allowed: true, patch: decision.patchFor(node, launch) };
    }
    const admitted = this.quotaTurn.then(async (): Promise<AdmissionDecision> => {
      const vcpu = fargateVcpu(pod.spec);
      const limit = exceededLimit(profile, await this.parts.quota.used(profile.name), vcpu);
      if (limit) {
        this.parts.onWaiting();
        return { allowed: true, patch: decision.waitingPatch(limit) };
      }
      const { node, launch } = await this.launch(profile);
      this.parts.quota.reserve(profile.name, node, vcpu);
      return { allowed: true, patch: decision.patchFor(node, launch) };
    });
    this.quotaTurn = admitted.catch(() => undefined);
    return admitted;
  }

  /** The pod's token (it waits for its launch when there is none yet), start-up time and node of its own. */
  private async launch(profile: FargateProfile): Promise<{ node: string; launch: Launch }> {
    const { launcher, startup, kc, zones } = this.parts;
    const launch: Launch = {
      startupMs: drawStartupMs(profile.startup ?? startup),
      hold: launcher.reserve(profile),
    };
    return { node: await createFargateNode(kc, zones), launch };
  }
}

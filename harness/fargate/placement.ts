import type { V1Pod } from "@kubernetes/client-node";
import fastJsonPatch, { type Operation } from "fast-json-patch";
import { fargateComputeLabel, fargateTaint } from "../cluster/nodes.ts";
import { fargateIncompatibility } from "./compatibility.ts";
import { holdForLaunch, type LaunchHold } from "./launch-rate.ts";
import { fargateProfileLabel, matchingProfile, type FargateProfile } from "./profiles.ts";
import { fargateScheduler, overQuotaAnnotation, type QuotaLimit } from "./quota.ts";
import { startupAnnotations } from "./startup.ts";

/** What the emulator adds to a pod it places: its start-up time, and what holds it until its launch. */
export interface Launch {
  /** from binding to Ready (startup.ts) */
  startupMs: number;
  /** the launch rate's hold on the pod (launch-rate.ts); none: it launches now */
  hold?: LaunchHold;
}

export type FargateDecision =
  | { outcome: "not-fargate" }
  | { outcome: "rejected"; profile: FargateProfile; message: string }
  | {
      outcome: "fargate";
      profile: FargateProfile;
      patchFor(nodeName: string, launch?: Launch): Operation[];
      /** The pod handed to the fargate-scheduler with no node: it waits for capacity (quota.ts). */
      waitingPatch(limit: QuotaLimit): Operation[];
    };

/** What EKS does with a pod at creation, given the cluster's Fargate profiles. */
export function decideFargate(
  pod: V1Pod,
  namespace: string,
  profiles: readonly FargateProfile[],
): FargateDecision {
  const profile = matchingProfile(profiles, namespace, pod.metadata?.labels ?? {});
  if (!profile) return { outcome: "not-fargate" };
  const message = pod.spec ? fargateIncompatibility(pod.spec) : undefined;
  if (message) return { outcome: "rejected", profile, message };
  return {
    outcome: "fargate",
    profile,
    patchFor: (nodeName, launch = { startupMs: 0 }) =>
      fastJsonPatch.compare(pod, placeOnFargate(pod, profile.name, nodeName, launch)),
    waitingPatch: (limit) => fastJsonPatch.compare(pod, waitForFargate(pod, profile.name, limit)),
  };
}

/**
 * The pod as it leaves the EKS admission chain: labelled with its profile, tolerating the Fargate taint,
 * and pinned to the Fargate node made for it (EKS runs each Fargate pod on a node of its own).
 */
function placeOnFargate(pod: V1Pod, profileName: string, nodeName: string, launch: Launch): V1Pod {
  const placed = labelledForFargate(pod, profileName);
  placed.spec!.nodeSelector = {
    ...placed.spec!.nodeSelector,
    [fargateComputeLabel]: "fargate",
    "kubernetes.io/hostname": nodeName,
  };
  const startup = startupAnnotations(launch.startupMs);
  if (Object.keys(startup).length)
    placed.metadata!.annotations = { ...placed.metadata!.annotations, ...startup };
  if (launch.hold) holdForLaunch(placed, launch.hold);
  return placed;
}

/** The pod as EKS leaves it for its fargate-scheduler, which has no capacity to give it. */
function waitForFargate(pod: V1Pod, profileName: string, limit: QuotaLimit): V1Pod {
  const waiting = labelledForFargate(pod, profileName);
  waiting.spec!.schedulerName = fargateScheduler;
  waiting.metadata!.annotations = { ...waiting.metadata!.annotations, [overQuotaAnnotation]: limit };
  return waiting;
}

function labelledForFargate(pod: V1Pod, profileName: string): V1Pod {
  const placed = structuredClone(pod);
  placed.metadata = placed.metadata ?? {};
  placed.metadata.labels = { ...placed.metadata.labels, [fargateProfileLabel]: profileName };
  const spec = placed.spec ?? { containers: [] };
  placed.spec = spec;
  const tolerates = spec.tolerations?.some(
    (t) => t.key === fargateTaint.key && (t.operator === "Exists" || t.value === fargateTaint.value),
  );
  if (!tolerates) {
    spec.tolerations = [
      ...(spec.tolerations ?? []),
      { key: fargateTaint.key, operator: "Equal", value: fargateTaint.value, effect: fargateTaint.effect },
    ];
  }
  return placed;
}

import { CoreV1Api, type KubeConfig, type V1Pod, type V1PodSpec } from "@kubernetes/client-node";
import { fargateSize, LARGEST_FARGATE_SIZE } from "../../core/fargateSize.ts";
import { fargateProfileLabel, type FargateProfile } from "./profiles.ts";

// The account's limits on concurrent Fargate pods and on their vCPUs ("Fargate On-Demand vCPU resource
// count", counted at Fargate's pod sizes), as EKS reports them: the pod passes EKS's admission (labelled with
// its profile, handed to `schedulerName: fargate-scheduler`), no node is made for it, and the
// fargate-scheduler records a Warning Event `FailedScheduling` on it and leaves it Pending. The pod limit's
// wording is what users have reported from EKS (terraform-aws-modules/terraform-aws-eks#1758; the Event's
// shape, from fargate-scheduler, in clowdhaus/eks-reference-architecture#12). For the vCPU limit no EKS
// wording was found; the emulator uses the one Amazon ECS gives for the same quota, which ECS tasks and EKS
// pods share (a task "was unable to place a task. Reason: You've reached the limit on the number of vCPUs you
// can run concurrently", re:Post and the ECS troubleshooting guides). The fargate-scheduler does not try such
// a pod again (aws/containers-roadmap#2654), and neither does the emulator: it stays Pending until deleted.

export const fargateScheduler = "fargate-scheduler";
export const quotaMessage =
  "Your AWS account has reached the limit on the number of Fargate pods it can run concurrently";
export const vcpuQuotaMessage = "You've reached the limit on the number of vCPUs you can run concurrently";

export type QuotaLimit = "pods" | "vcpu";
const messages: Record<QuotaLimit, string> = { pods: quotaMessage, vcpu: vcpuQuotaMessage };

/** On a pod left waiting: the limit it is over, so its Event names that one. */
export const overQuotaAnnotation = "test.spot-orchestrator.io/fargate-over-quota";

/** What a profile's pods hold: pods, and vCPUs at Fargate's sizes. */
export interface QuotaUse {
  pods: number;
  vcpu: number;
}

/** The vCPUs Fargate runs a pod of `spec` on (a pod larger than Fargate's largest counts as the largest). */
export function fargateVcpu(spec: V1PodSpec | undefined): number {
  return (spec && fargateSize(spec)?.vcpu) ?? LARGEST_FARGATE_SIZE.vcpu;
}

/** The limit one more pod of `vcpu` would go over, or undefined when it fits. */
export function exceededLimit(
  { podQuota, vcpuQuota }: Pick<FargateProfile, "podQuota" | "vcpuQuota">,
  used: QuotaUse,
  vcpu: number,
): QuotaLimit | undefined {
  if (podQuota !== undefined && used.pods + 1 > podQuota) return "pods";
  if (vcpuQuota !== undefined && used.vcpu + vcpu > vcpuQuota) return "vcpu";
  return undefined;
}

/** A pod admitted onto a node of its own stays invisible to a list for a moment: count it from here. */
const RECENT_MS = 30_000;

export class FargateQuota {
  private readonly core: CoreV1Api;
  /** Profile → the nodes made for pods admitted lately (and their vCPUs), not all in a list yet. */
  private readonly recent = new Map<string, { node: string; vcpu: number; at: number }[]>();
  private readonly reported = new Set<string>();

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** What the profile's pods hold: each is pinned to a Fargate node made for it. */
  async used(profile: string): Promise<QuotaUse> {
    const pods = await this.core.listPodForAllNamespaces({
      labelSelector: `${fargateProfileLabel}=${profile}`,
    });
    const vcpuByNode = new Map<string, number>();
    for (const pod of pods.items) {
      const node = pod.spec?.nodeSelector?.["kubernetes.io/hostname"];
      if (node === undefined || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") continue;
      vcpuByNode.set(node, fargateVcpu(pod.spec));
    }
    const recent = (this.recent.get(profile) ?? []).filter((r) => Date.now() - r.at < RECENT_MS);
    this.recent.set(profile, recent);
    for (const r of recent) if (!vcpuByNode.has(r.node)) vcpuByNode.set(r.node, r.vcpu);
    let vcpu = 0;
    for (const v of vcpuByNode.values()) vcpu += v;
    return { pods: vcpuByNode.size, vcpu };
  }

  reserve(profile: string, node: string, vcpu: number): void {
    this.recent.set(profile, [...(this.recent.get(profile) ?? []), { node, vcpu, at: Date.now() }]);
  }

  /** The fargate-scheduler's Event on every pod left waiting for capacity that has none yet. */
  async reportWaiting(): Promise<void> {
    const waiting = await this.core.listPodForAllNamespaces({
      fieldSelector: `spec.schedulerName=${fargateScheduler},status.phase=Pending`,
    });
    for (const pod of waiting.items) {
      const uid = pod.metadata?.uid ?? "";
      if (this.reported.has(uid) || pod.spec?.nodeName) continue;
      if (!(await this.hasEvent(pod))) await this.recordFailedScheduling(pod);
      this.reported.add(uid);
    }
  }

  private async hasEvent(pod: V1Pod): Promise<boolean> {
    const events = await this.core.listNamespacedEvent({
      namespace: pod.metadata?.namespace ?? "",
      fieldSelector: `involvedObject.uid=${pod.metadata?.uid},reason=FailedScheduling`,
    });
    return events.items.length > 0;
  }

  private async recordFailedScheduling(pod: V1Pod): Promise<void> {
    const { namespace = "", name = "", uid } = pod.metadata ?? {};
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${name}.` },
        involvedObject: { apiVersion: "v1", kind: "Pod", namespace, name, uid },
        type: "Warning",
        reason: "FailedScheduling",
        message: messages[pod.metadata?.annotations?.[overQuotaAnnotation] === "vcpu" ? "vcpu" : "pods"],
        source: { component: fargateScheduler },
        reportingComponent: fargateScheduler,
        reportingInstance: fargateScheduler,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}

import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { fargateProfileLabel } from "./profiles.ts";

// The account's limit on concurrent Fargate pods, as EKS reports it: the pod passes EKS's admission (labelled
// with its profile, handed to `schedulerName: fargate-scheduler`), no node is made for it, and the
// fargate-scheduler records a Warning Event `FailedScheduling` on it and leaves it Pending. The wording is
// what users have reported from EKS (terraform-aws-modules/terraform-aws-eks#1758; the Event's shape, from
// fargate-scheduler, in clowdhaus/eks-reference-architecture#12). The fargate-scheduler does not try such a
// pod again (aws/containers-roadmap#2654), and neither does the emulator: it stays Pending until deleted.

export const fargateScheduler = "fargate-scheduler";
export const quotaMessage =
  "Your AWS account has reached the limit on the number of Fargate pods it can run concurrently";

/** A pod admitted onto a node of its own stays invisible to a list for a moment: count it from here. */
const RECENT_MS = 30_000;

export class FargateQuota {
  private readonly core: CoreV1Api;
  /** Profile → the nodes made for pods admitted lately, not all in a list yet. */
  private readonly recent = new Map<string, { node: string; at: number }[]>();
  private readonly reported = new Set<string>();

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Pods of the profile that hold Fargate capacity: each is pinned to a Fargate node made for it. */
  async placed(profile: string): Promise<number> {
    const pods = await this.core.listPodForAllNamespaces({
      labelSelector: `${fargateProfileLabel}=${profile}`,
    });
    const nodes = new Set(
      pods.items
        .filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
        .map((p) => p.spec?.nodeSelector?.["kubernetes.io/hostname"])
        .filter((node): node is string => node !== undefined),
    );
    const recent = (this.recent.get(profile) ?? []).filter((r) => Date.now() - r.at < RECENT_MS);
    this.recent.set(profile, recent);
    for (const r of recent) nodes.add(r.node);
    return nodes.size;
  }

  reserve(profile: string, node: string): void {
    this.recent.set(profile, [...(this.recent.get(profile) ?? []), { node, at: Date.now() }]);
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
        message: quotaMessage,
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

// The account's Fargate launch rate. Fargate launches pods through a token bucket per account and Region;
// for an account launching only EKS pods the burst is 20 pods and the sustained rate 20 pods a second
// ("AWS Fargate throttling quotas", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html).
// A pod over the rate waits unscheduled, as on EKS: the emulator admits it with a scheduling gate and the time
// its token comes, and lifts the gate then, first come first launched. Its start-up time counts from the
// binding that follows. The launch time lives on the pod, so any emulator sharing the cluster can lift a gate
// whose emulator has gone.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import { TokenBucket } from "../../core/rateLimit.ts";
import { ignoreNotFound } from "../cluster/api-errors.ts";
import { errorMessage } from "../cluster/wait.ts";
import type { FargateProfile, LaunchRate } from "./profiles.ts";

/** What AWS documents for an account that launches only EKS pods. */
export const eksLaunchRate: LaunchRate = { perSecond: 20, burst: 20 };

/** The scheduling gate a pod waits behind for its launch; also the label listing the waiting pods. */
export const launchGate = "test.spot-orchestrator.io/fargate-launch";
/** When the waiting pod may launch (epoch milliseconds). */
export const launchAtAnnotation = "test.spot-orchestrator.io/fargate-launch-at";

/** How often waiting pods are looked at while some are due soon. */
const POLL_MS = 50;

/** A pod's wait for its launch: until when, and which emulator holds it. */
export interface LaunchHold {
  launchAt: number;
  heldBy: string;
}

/** A waiting pod as the release sees it. */
export interface WaitingPod extends LaunchHold {
  namespace: string;
  name: string;
}

/** The pod as admitted to wait for its launch: gated, labelled to be found, its launch time noted. */
export function holdForLaunch(pod: V1Pod, { launchAt, heldBy }: LaunchHold): void {
  const metadata = (pod.metadata ??= {});
  metadata.labels = { ...metadata.labels, [launchGate]: heldBy };
  metadata.annotations = { ...metadata.annotations, [launchAtAnnotation]: String(launchAt) };
  const spec = (pod.spec ??= { containers: [] });
  spec.schedulingGates = [...(spec.schedulingGates ?? []), { name: launchGate }];
}

/** Launch times from token buckets: the account's, and one per profile that sets its own rate. */
export class LaunchSchedule {
  private readonly accountRate: LaunchRate;
  private readonly now: () => number;
  private readonly buckets = new Map<string, { rate: LaunchRate; bucket: TokenBucket }>();

  constructor(accountRate: LaunchRate, now: () => number = Date.now) {
    this.accountRate = accountRate;
    this.now = now;
  }

  /** Takes a pod's token: undefined when it may launch now, else the time (epoch ms) it may. */
  next(profile: Pick<FargateProfile, "name" | "launchRate">): number | undefined {
    const waitMs = this.bucketFor(profile).reserve();
    return waitMs <= 0 ? undefined : this.now() + Math.ceil(waitMs);
  }

  private bucketFor(profile: Pick<FargateProfile, "name" | "launchRate">): TokenBucket {
    const key = profile.launchRate ? `profile/${profile.name}` : "account";
    const rate = profile.launchRate ?? this.accountRate;
    const known = this.buckets.get(key);
    if (known?.rate.perSecond === rate.perSecond && known.rate.burst === rate.burst) return known.bucket;
    const bucket = new TokenBucket(rate.perSecond, rate.burst, this.now);
    this.buckets.set(key, { rate, bucket });
    return bucket;
  }
}

/** Holds pods over the launch rate behind a scheduling gate, and lifts each gate when its time comes. */
export class FargateLauncher {
  private readonly core: CoreV1Api;
  private readonly schedule: LaunchSchedule;
  private readonly id = randomBytes(4).toString("hex");
  private followUntil = 0;
  private following: Promise<void> | undefined;
  private releasing: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(kc: KubeConfig, accountRate: LaunchRate) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.schedule = new LaunchSchedule(accountRate);
  }

  /** Takes the pod's token: undefined when it may launch now, else its hold until its launch. */
  reserve(profile: FargateProfile): LaunchHold | undefined {
    const launchAt = this.schedule.next(profile);
    if (launchAt === undefined) return undefined;
    this.follow(launchAt);
    return { launchAt, heldBy: this.id };
  }

  /** Lifts the gates whose time has come, oldest first (and every gate of this emulator, when closing). */
  releaseDue(): Promise<unknown> {
    this.releasing = this.releasing
      .then(async () => {
        const waiting = await this.waitingPods();
        for (const pod of dueInOrder(waiting, Date.now(), this.closed ? this.id : undefined)) {
          await this.release(pod);
        }
      })
      .catch((err: unknown) => {
        process.stderr.write(`[fargate] lifting launch gates failed: ${errorMessage(err)}\n`);
      });
    return this.releasing;
  }

  /** Launches what this emulator still holds: no one would lift its gates otherwise. */
  async close(): Promise<void> {
    this.closed = true;
    await this.following;
    await this.releaseDue();
  }

  /** Polls while a reserved launch is near; a pod admitted just now shows up a moment later. */
  private follow(launchAt: number): void {
    this.followUntil = Math.max(this.followUntil, launchAt + 2_000);
    this.following ??= (async () => {
      while (!this.closed && Date.now() < this.followUntil) {
        await sleep(POLL_MS);
        await this.releaseDue();
      }
      this.following = undefined;
    })();
  }

  private async waitingPods(): Promise<WaitingPod[]> {
    const pods = await this.core.listPodForAllNamespaces({ labelSelector: launchGate });
    return pods.items.map((pod) => ({
      namespace: pod.metadata?.namespace ?? "",
      name: pod.metadata?.name ?? "",
      launchAt: Number(pod.metadata?.annotations?.[launchAtAnnotation] ?? 0),
      heldBy: pod.metadata?.labels?.[launchGate] ?? "",
    }));
  }

  private async release({ namespace, name }: WaitingPod): Promise<void> {
    const body = {
      metadata: { labels: { [launchGate]: null }, annotations: { [launchAtAnnotation]: null } },
      spec: { schedulingGates: [{ $patch: "delete", name: launchGate }] },
    };
    await ignoreNotFound(() =>
      this.core.patchNamespacedPod(
        { namespace, name, body },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      ),
    );
  }
}

/** The waiting pods to launch now, in the order their tokens were given: due ones, and all of `everyOf`'s. */
export function dueInOrder(waiting: readonly WaitingPod[], now: number, everyOf?: string): WaitingPod[] {
  return waiting
    .filter((pod) => pod.launchAt <= now || pod.heldBy === everyOf)
    .sort(
      (a, b) =>
        a.launchAt - b.launchAt || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name),
    );
}

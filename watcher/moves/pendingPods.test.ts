import type { EventsV1Event, V1Pod, V1PodStatus } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  describeWaiting,
  longestWaiting,
  untilALimit,
  waitingReason,
  waitingSince,
  type WaitingPod,
} from "./pendingPods.ts";

const now = Date.parse("2026-11-30T10:05:00Z");
const ago = (seconds: number) => new Date(now - seconds * 1000);

function pod(name: string, createdSecondsAgo: number, status: V1PodStatus, nodeName?: string): V1Pod {
  return {
    metadata: { name, namespace: "shop", uid: `uid-${name}`, creationTimestamp: ago(createdSecondsAgo) },
    spec: { containers: [{ name: "app" }], ...(nodeName ? { nodeName } : {}) },
    status,
  };
}

/** A pod bound `boundSecondsAgo` to a Fargate node, its containers still being created. */
function starting(
  name: string,
  createdSecondsAgo: number,
  boundSecondsAgo: number,
  extra: V1PodStatus = {},
): V1Pod {
  return pod(
    name,
    createdSecondsAgo,
    {
      phase: "Pending",
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: ago(boundSecondsAgo) },
        {
          type: "Ready",
          status: "False",
          reason: "ContainersNotReady",
          message: "containers with unready status: [app]",
        },
      ],
      containerStatuses: [
        {
          name: "app",
          image: "x",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "ContainerCreating" } },
        },
      ],
      ...extra,
    },
    "fargate-ip-10-0-1-2.eu-west-1.compute.internal",
  );
}

function warning(reason: string, note: string, secondsAgo: number, controller?: string): EventsV1Event {
  return {
    metadata: {},
    eventTime: ago(secondsAgo) as unknown as EventsV1Event["eventTime"],
    type: "Warning",
    reason,
    note,
    ...(controller ? { reportingController: controller } : {}),
  };
}

describe("waitingSince", () => {
  it("tells an unscheduled pod (from its creation) from one bound and starting (from its binding)", () => {
    expect(waitingSince(pod("new", 30, { phase: "Pending" }))).toEqual({
      waiting: "unscheduled",
      since: now - 30_000,
    });
    expect(waitingSince(starting("boot", 95, 60))).toEqual({ waiting: "starting", since: now - 60_000 });
  });

  it("leaves out Ready, finished and terminating pods", () => {
    const ready = pod("ok", 300, { phase: "Running", conditions: [{ type: "Ready", status: "True" }] }, "n");
    const done = pod("done", 300, { phase: "Succeeded" }, "n");
    const leaving = {
      ...pod("leaving", 500, { phase: "Pending" }),
      metadata: { name: "x", deletionTimestamp: new Date() },
    };
    for (const p of [ready, done, leaving]) expect(waitingSince(p)).toBeUndefined();
  });
});

describe("longestWaiting", () => {
  it("picks the pod of each kind that has waited the longest", () => {
    const found = longestWaiting(
      [
        pod("young", 20, { phase: "Pending" }),
        pod("old", 95, { phase: "Pending" }),
        starting("a", 100, 40),
        starting("b", 70, 65),
      ],
      now,
    );
    expect(found.unscheduled?.pod.metadata?.name).toBe("old");
    expect(found.unscheduled?.forMs).toBe(95_000);
    expect(found.starting?.pod.metadata?.name).toBe("b");
    expect(found.starting?.forMs).toBe(65_000);
  });

  it("never gives a negative wait, even for a clock read before the pods were", () => {
    expect(longestWaiting([pod("new", -2, { phase: "Pending" })], now).unscheduled?.forMs).toBe(0);
  });
});

describe("waitingReason", () => {
  const unscheduled = (status: V1PodStatus) => {
    const p = pod("web-1", 100, status);
    return { pod: p, waiting: "unscheduled" as const, since: now - 100_000, forMs: 100_000 };
  };
  const bound = (p: V1Pod) => ({ pod: p, waiting: "starting" as const, since: now - 60_000, forMs: 60_000 });

  it.each<[string, V1PodStatus, EventsV1Event[], string]>([
    [
      "the scheduler's PodScheduled condition, before older Events",
      {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/7 nodes are available: 7 node(s) didn't match Pod's node affinity/selector.",
          },
        ],
      },
      [warning("FailedScheduling", "older words", 60)],
      "Unschedulable: 0/7 nodes are available: 7 node(s) didn't match Pod's node affinity/selector.",
    ],
    [
      "the newest Warning Event, naming who reported it (EKS's fargate-scheduler sets no condition)",
      { phase: "Pending" },
      [
        warning("FailedScheduling", "an older one", 240, "fargate-scheduler"),
        warning(
          "FailedScheduling",
          "Your AWS account has reached the limit on the number of Fargate pods it can run concurrently",
          120,
          "fargate-scheduler",
        ),
        { ...warning("Scheduled", "fine", 60), type: "Normal" },
      ],
      "FailedScheduling (fargate-scheduler): Your AWS account has reached the limit on the number of Fargate pods it can run concurrently",
    ],
    ["nothing said yet", { phase: "Pending" }, [], "not scheduled yet (no scheduler has reported on it)"],
  ])("unscheduled: %s", (_name, status, events, reason) => {
    expect(waitingReason(unscheduled(status), events)).toBe(reason);
  });

  it("unscheduled: a scheduling gate", () => {
    const gated = unscheduled({ phase: "Pending" });
    gated.pod.spec!.schedulingGates = [{ name: "eks.amazonaws.com/fargate-launch" }];
    expect(waitingReason(gated, [])).toBe("SchedulingGated: waiting for eks.amazonaws.com/fargate-launch");
  });

  it("starting: a container left waiting with a reason", () => {
    const p = starting("web-1", 100, 60, {
      containerStatuses: [
        {
          name: "app",
          image: "x",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image x" } },
        },
      ],
    });
    expect(waitingReason(bound(p), [])).toBe("container app: ImagePullBackOff: Back-off pulling image x");
  });

  it("starting: never a scheduling Event from before the binding, nor any Event older than it", () => {
    const p = starting("web-1", 100, 60);
    const stale = [
      warning("FailedScheduling", "0/3 nodes are available: 1 node(s) had untolerated taint", 90),
      warning("FailedScheduling", "still about scheduling", 10),
      warning("FailedMount", "an old mount trouble", 70),
    ];
    expect(waitingReason(bound(p), stale)).toBe(
      "starting on fargate-ip-10-0-1-2.eu-west-1.compute.internal (ContainersNotReady: containers with unready status: [app])",
    );
  });

  it("starting: a Warning Event since the binding", () => {
    const p = starting("web-1", 100, 60);
    const events = [warning("FailedMount", "MountVolume.SetUp failed for volume data", 20, "kubelet")];
    expect(waitingReason(bound(p), events)).toBe(
      "FailedMount (kubelet): MountVolume.SetUp failed for volume data",
    );
  });

  it("is told with the pod, how it waits and how long", () => {
    const p = pod("web-1", 95, { phase: "Pending" });
    expect(describeWaiting({ pod: p, waiting: "unscheduled", since: 0, forMs: 95_000 }, "why")).toBe(
      "pod web-1 Pending for 1m35s: why",
    );
    expect(describeWaiting({ pod: p, waiting: "starting", since: 0, forMs: 52_000 }, "why")).toBe(
      "pod web-1 starting for 52s: why",
    );
  });
});

describe("untilALimit", () => {
  const waited = (forMs: number) => ({ waiting: { forMs } as WaitingPod });
  const limits = { unscheduled: 90_000, starting: 180_000 };

  it("is the shortest time left before a kind's longest wait reaches its limit", () => {
    expect(untilALimit({ unscheduled: waited(30_000), starting: waited(100_000) }, limits)).toBe(60_000);
    expect(untilALimit({ starting: waited(170_000) }, limits)).toBe(10_000);
  });

  it("counts a kind with no pod waiting from zero: a pod that begins to wait now", () => {
    expect(untilALimit({}, limits)).toBe(90_000);
    expect(untilALimit({}, { starting: 180_000 })).toBe(180_000);
  });

  it("is zero once a wait is past its limit, and undefined without limits", () => {
    expect(untilALimit({ unscheduled: waited(95_000) }, limits)).toBe(0);
    expect(untilALimit({ unscheduled: waited(95_000) }, {})).toBeUndefined();
  });
});

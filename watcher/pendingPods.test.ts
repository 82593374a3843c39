import type { EventsV1Event, V1Pod, V1PodStatus } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { describePending, longestPending, pendingReason } from "./pendingPods.ts";

const now = Date.parse("2026-11-30T10:05:00Z");

function pod(name: string, createdSecondsAgo: number, status: V1PodStatus): V1Pod {
  return {
    metadata: {
      name,
      namespace: "shop",
      uid: `uid-${name}`,
      creationTimestamp: new Date(now - createdSecondsAgo * 1000),
    },
    spec: { containers: [{ name: "app" }] },
    status,
  };
}

function warning(reason: string, note: string, at: string, controller?: string): EventsV1Event {
  return {
    metadata: {},
    eventTime: new Date(at) as unknown as EventsV1Event["eventTime"],
    type: "Warning",
    reason,
    note,
    ...(controller ? { reportingController: controller } : {}),
  };
}

describe("longestPending", () => {
  it("picks the pod Pending the longest, ignoring running and terminating ones", () => {
    const pods = [
      pod("running", 300, { phase: "Running" }),
      pod("young", 20, { phase: "Pending" }),
      pod("old", 95, { phase: "Pending" }),
      {
        ...pod("leaving", 500, { phase: "Pending" }),
        metadata: { name: "leaving", deletionTimestamp: new Date() },
      },
    ];
    const found = longestPending(pods, now);
    expect(found?.pod.metadata?.name).toBe("old");
    expect(found?.forMs).toBe(95_000);
    expect(longestPending([pods[0]!], now)).toBeUndefined();
  });
});

describe("pendingReason", () => {
  it.each<[string, V1PodStatus, EventsV1Event[], string]>([
    [
      "the scheduler's PodScheduled condition (a profile mismatch: no node matches)",
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
      [warning("FailedScheduling", "older words", "2026-11-30T10:04:00Z")],
      "Unschedulable: 0/7 nodes are available: 7 node(s) didn't match Pod's node affinity/selector.",
    ],
    [
      "Fargate's own condition",
      {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "POD_CPU_MEM_EXCEEDS_MAX_FARGATE_SIZE",
            message: "Your pod's cpu/memory requirements exceed the max Fargate configuration",
          },
        ],
      },
      [],
      "POD_CPU_MEM_EXCEEDS_MAX_FARGATE_SIZE: Your pod's cpu/memory requirements exceed the max Fargate configuration",
    ],
    [
      "a container left waiting",
      {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "True" }],
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
      },
      [],
      "container app: ImagePullBackOff: Back-off pulling image x",
    ],
    [
      "the newest Warning Event, naming who reported it (EKS's fargate-scheduler sets no condition)",
      { phase: "Pending" },
      [
        warning("FailedScheduling", "an older one", "2026-11-30T10:01:00Z", "fargate-scheduler"),
        warning(
          "FailedScheduling",
          "Your AWS account has reached the limit on the number of Fargate pods it can run concurrently",
          "2026-11-30T10:03:00Z",
          "fargate-scheduler",
        ),
        { ...warning("Scheduled", "fine", "2026-11-30T10:04:00Z"), type: "Normal" },
      ],
      "FailedScheduling (fargate-scheduler): Your AWS account has reached the limit on the number of Fargate pods it can run concurrently",
    ],
    [
      "nothing said yet",
      { phase: "Pending" },
      [],
      "no reason reported yet (no PodScheduled condition, waiting container or Warning Event)",
    ],
  ])("%s", (_name, status, events, reason) => {
    expect(pendingReason(pod("web-1", 100, status), events)).toBe(reason);
  });

  it("is told with the pod and how long it has waited", () => {
    const p = pod("web-1", 95, { phase: "Pending" });
    expect(describePending({ pod: p, forMs: 95_000 }, "why")).toBe("pod web-1 Pending for 1m35s: why");
  });
});

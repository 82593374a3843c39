import type { V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { quietLog as log } from "../../test/support/log.ts";
import { recordingAlerter, recordingRecorder } from "../../test/watcher/fakes.ts";
import { createWatcherMetrics } from "../metrics.ts";
import { queueAlarm } from "./queueAlarm.ts";
import { queueAnnotations, queueOnLease, queueReport } from "../lease/queueOnLease.ts";

const queueUrl = "https://sqs.eu-west-1.amazonaws.com/123456789012/spot-orchestrator-1a2b3c4d";
const pod = { apiVersion: "v1", kind: "Pod", namespace: "so", name: "so-7d9-x2", uid: "pod-uid" };
const now = Date.parse("2026-11-30T12:05:00Z");
const since = new Date("2026-11-30T12:00:00Z");
const error = "QueueDoesNotExist: The specified queue does not exist. (HTTP 400)";

describe("queueAlarm", () => {
  it("tells of an unreachable queue on the watcher's Pod, the gauge and an alert, and of its return", async () => {
    const recorder = recordingRecorder();
    const alerter = recordingAlerter();
    const metrics = createWatcherMetrics();
    const alarm = queueAlarm({ queueUrl, pod, recorder, alerter, metrics, log, now: () => now });
    const gauge = async () => (await metrics.queueUnreachable.get()).values[0]?.value;

    alarm.unreachable({ since, error, failures: 17 });
    expect(await gauge()).toBe(1);
    expect(recorder.events).toEqual([
      {
        type: "Warning",
        reason: "QueueUnreachable",
        action: "Receive",
        note: `Cannot receive from ${queueUrl} for 5m (17 failed receives): ${error}. Interruptions are missed until it can.`,
        deployment: "so/so-7d9-x2",
        kind: "Pod",
        uid: "pod-uid",
      },
    ]);
    expect(alerter.problems).toEqual([
      {
        message: "The watcher cannot read its SQS queue: interruptions are being missed",
        details: { queue: queueUrl, error, since: "2026-11-30T12:00:00Z", pod: "so/so-7d9-x2" },
      },
    ]);

    alarm.reachable({ since });
    expect(await gauge()).toBe(0);
    expect(recorder.events[1]).toMatchObject({ type: "Normal", reason: "QueueReachable", kind: "Pod" });
    expect(alerter.summaries).toEqual([
      expect.objectContaining({
        ok: true,
        lines: [`${queueUrl}: unreachable for 5m, since 2026-11-30T12:00:00Z`],
      }),
    ]);
  });
});

describe("the leader's queue state on its Lease", () => {
  const lease = (state: Parameters<typeof queueAnnotations>[1], renewed = now - 2_000): V1Lease => ({
    metadata: { annotations: queueAnnotations(queueUrl, state) },
    spec: { holderIdentity: "so-7d9-x2", renewTime: new Date(renewed) as never, leaseDurationSeconds: 15 },
  });

  it("reads back what the leader wrote", () => {
    expect(queueOnLease(lease({ state: "unreachable", since, error }))).toEqual({
      state: "unreachable",
      since: "2026-11-30T12:00:00Z",
      error,
      queueUrl,
    });
    expect(
      queueOnLease({ metadata: { annotations: { "spot-orchestrator.io/queue": "{" } } }),
    ).toBeUndefined();
  });

  it.each([
    [
      { state: "reachable", since } as const,
      "ok",
      `${queueUrl} reachable since 2026-11-30T12:00:00Z (5m ago) (leader so-7d9-x2)`,
    ],
    [
      { state: "unreachable", since, error } as const,
      "fail",
      `${queueUrl} UNREACHABLE since 2026-11-30T12:00:00Z (5m ago): ${error}; interruptions are being missed (leader so-7d9-x2)`,
    ],
    [
      { state: "failing", since, error } as const,
      "warn",
      `${queueUrl} receives failing since 2026-11-30T12:00:00Z (5m ago): ${error} (leader so-7d9-x2)`,
    ],
    [{ state: "unknown" } as const, "warn", `${queueUrl} not received from yet (leader so-7d9-x2)`],
  ])("reports %o as %s", (state, status, text) => {
    expect(queueReport(lease(state), now)).toEqual({ status, text });
  });

  it("says when no leader holds the Lease any more, or none ever reported", () => {
    const stale = lease({ state: "reachable", since }, now - 60_000);
    expect(queueReport(stale, now)).toEqual({
      status: "warn",
      text: `no leader now; the last one reported ${queueUrl} reachable since 2026-11-30T12:00:00Z (5m ago)`,
    });
    expect(queueReport(undefined, now).status).toBe("warn");
    expect(queueReport({ metadata: {} }, now).text).toMatch(/^unknown: no leader watcher has reported/);
  });
});

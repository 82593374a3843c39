// Leadership, end to end with the real watcher process: a leader that loses its Lease because the
// apiserver stops answering past the renew deadline stops every write at once (here: a recovery whose
// rollback would otherwise land while it is no longer leader), campaigns again as soon as the apiserver is
// back, and finishes the work as the new leader. And a replica without leader election is the leader.
import { randomBytes } from "node:crypto";
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { parseTime } from "../../core/time.ts";
import {
  controlPlaneAlive,
  freezeControlPlane,
  type FrozenControlPlane,
} from "../../harness/cluster/controlPlane.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { indexOfLine, message, readLog, type LogLine } from "../../harness/stack/logs.ts";
import { metricValue } from "../../harness/stack/stack.ts";
import { clients, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { useStack } from "../support/suiteStack.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps } = clients(kc);
const ns = useNamespace("e2e-leadership");
const suffix = randomBytes(3).toString("hex");
const RECOVERY_TIMEOUT_MS = 8_000;
const suite = useStack(kc, ns, {
  LOG_LEVEL: "debug",
  RECOVERY_INTERVAL: "500ms",
  RECOVERY_COOLDOWN: "1s",
  RECOVERY_TIMEOUT: `${RECOVERY_TIMEOUT_MS}ms`,
  // one attempt during the test: the next would be an hour away
  RECOVERY_BACKOFF_BASE: "1h",
});
let frozen: FrozenControlPlane | undefined;
afterAll(() => frozen?.thaw());

const isLeader = async (port = suite.stack.watcherHealthPort) =>
  metricValue(await suite.stack.watcherMetrics(port), "spot_orchestrator_is_leader");

/** An app on Fargate whose recovery to spot can never become healthy: a pod its anti-affinity refuses sits on the only spot node. */
async function appThatCannotRecover(name: string): Promise<void> {
  const [node] = await addSpotNodes(kc, 1, { nodegroup: `${name}-${suffix}` });
  suite.nodes.push(node!);
  const blocker = optedInApp(`${name}-blocker`, 1, { "kubernetes.io/hostname": node!.metadata!.name! });
  delete blocker.metadata!.annotations;
  await apps.createNamespacedDeployment({ namespace: ns.name, body: blocker });
  await waitForAvailable(kc, ns.name, `${name}-blocker`, 1);
  const app: V1Deployment = optedInApp(name, 1, { "eks.amazonaws.com/nodegroup": `${name}-${suffix}` });
  app.spec!.template.spec!.affinity = {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: `${name}-blocker` } } },
      ],
    },
  };
  Object.assign(app.metadata!.annotations!, {
    [Annotation.compute]: "fargate",
    [Annotation.reason]: "spot-interruption",
    [Annotation.rollout]: "healthy",
  });
  await apps.createNamespacedDeployment({ namespace: ns.name, body: app });
}

describe("a leader that loses its Lease", () => {
  it("writes nothing more once the renew deadline has passed, and leads again as soon as the apiserver answers", async () => {
    const log = suite.stack.watcher!.logFile;
    await appThatCannotRecover("stranded");
    const underWay = await waitForAnnotations(
      kc,
      ns.name,
      "stranded",
      "a recovery to spot under way",
      (a) => a[Annotation.compute] === "spot" && a[Annotation.rollout] === "progressing",
    );
    const attemptStarted = parseTime(underWay.metadata!.annotations![Annotation.lastRecoveryAt])!;
    expect(await isLeader()).toBe(1);

    frozen = freezeControlPlane();
    const stepped = await waitFor(
      "the watcher to step down",
      () => indexOfLine(readLog(log), message("stopped leading; campaigning again")) >= 0,
      { timeoutMs: 30_000 },
    );
    expect(stepped).toBe(true);
    expect(await isLeader()).toBe(0); // the moment leadership ends
    // the follow-up's own deadline passes while the apiserver is away: a follow-up still running would
    // record the rollback the moment the apiserver answers again
    await waitFor(
      "the recovery's deadline",
      () => Date.now() > attemptStarted + RECOVERY_TIMEOUT_MS + 1_000,
      {
        timeoutMs: 30_000,
      },
    );
    frozen.thaw();
    frozen = undefined;
    expect(controlPlaneAlive()).toBe(true);

    const lines = await waitFor(
      "the watcher to lead again",
      () => {
        const all = readLog(log);
        const down = indexOfLine(all, message("stopped leading; campaigning again"));
        return indexOfLine(all, message("became leader"), down) > down ? all : undefined;
      },
      { timeoutMs: 30_000 },
    );
    // nothing was written between stepping down and leading again
    const after = (await apps.readNamespacedDeployment({ namespace: ns.name, name: "stranded" })).metadata!
      .annotations!;
    expect(after[Annotation.compute]).toBe("spot");
    expect(after[Annotation.rollout]).toBe("progressing");
    expect(after).not.toHaveProperty([Annotation.failedRecoveryAttempts]);
    const down = indexOfLine(lines, message("stopped leading; campaigning again"));
    const up = indexOfLine(lines, message("became leader"), down);
    const writes = (line: LogLine) =>
      ["recovery failed; back on Fargate", "recovered to spot", "recovering to spot"].includes(
        line.msg ?? "",
      );
    expect(lines.slice(down, up).filter(writes)).toEqual([]);

    // the new term follows the move left in progress and records its end, once
    const rolledBack = await waitForAnnotations(
      kc,
      ns.name,
      "stranded",
      "rolled back by the new leader",
      (a) => a[Annotation.compute] === "fargate" && a[Annotation.failedRecoveryAttempts] !== undefined,
    );
    expect(rolledBack.metadata!.annotations).toMatchObject({
      [Annotation.reason]: "rollback",
      [Annotation.failedRecoveryAttempts]: "1",
    });
    expect(await isLeader()).toBe(1);
  });
});

describe("a replica without leader election", () => {
  it("consumes the queue and says it is the leader", async () => {
    const solo = await suite.stack.startWatcher("solo", {
      LEADER_ELECTION: "false",
      RECOVERY_ENABLED: "false",
    });
    await waitFor(
      "the solo replica to lead",
      () => indexOfLine(readLog(solo.process.logFile), message("receiving EC2 events from SQS")) >= 0,
    );
    expect(await isLeader(solo.healthPort)).toBe(1);
    await solo.process.stop();
  });
});

// The storm's floor: the same flips the watcher makes (one merge patch of the same annotations per target,
// through the same webhook) sent by a bare client over kept-alive connections, each node's patches all at once
// at the moment its warning goes out in the watcher's run, and timed the same way: from that moment until a
// watch sees the Deployment with compute=fargate. What the apiserver and the webhook do for the flips, and
// nothing of finding them.
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import { assertOn, floorAnnotations } from "../interruption/floor.ts";
import { keepAliveClient } from "../interruption/keepAliveClient.ts";
import { startFlipLedger } from "./flipLedger.ts";
import { runWaves, type Wave } from "./schedule.ts";
import type { StormFleet } from "./zoneFleet.ts";

export interface FloorResult {
  /** Per target: its node's moment → the watch saw compute=fargate. */
  flipMs: number[];
  /** Per target: its node's moment → the patch's answer, at the client. */
  answerMs: number[];
  /** The storm's start → the last flip seen. */
  lastFlipMs: number;
  /** Requests sent (one patch per target). */
  requests: number;
  /** CPU seconds this process used sending them (its other work is idle meanwhile). */
  cpuSeconds: number;
}

export async function floorStorm(
  kc: KubeConfig,
  namespace: string,
  fleet: StormFleet,
  waves: Wave[],
  timeoutMs: number,
): Promise<FloorResult> {
  const targets = [...fleet.targets];
  const byNode = Map.groupBy(targets, ([, node]) => node.name);
  const client = await keepAliveClient(kc, targets.length);
  const base = `/apis/apps/v1/namespaces/${namespace}/deployments`;
  const nodeOf = new Map(targets.map(([name, node]) => [name, node.name]));
  const ledger = await startFlipLedger(kc, namespace, fleet.labelSelector, nodeOf, []);
  const answered = new Map<string, number>();
  try {
    // opens the connections, untimed: this floor is about the requests, not the handshakes
    await Promise.all(targets.map(([name]) => client.call("GET", `${base}/${name}`)));
    const cpuBefore = process.cpuUsage();
    const patch = async (name: string, body: unknown) => {
      const stored = await client.call(
        "PATCH",
        `${base}/${name}?fieldManager=bench-floor`,
        body,
        "application/merge-patch+json",
      );
      answered.set(name, performance.now());
      assertOn(stored as V1Deployment, "fargate");
    };
    const { startedAt, sentAt } = await runWaves(waves, (wave) =>
      Promise.all(
        wave.nodes.flatMap((node) => {
          const body = {
            metadata: { annotations: floorAnnotations({ nodeName: node.name, instanceId: node.instanceId }) },
          };
          return (byNode.get(node.name) ?? []).map(([name]) => patch(name, body));
        }),
      ),
    );
    const cpu = process.cpuUsage(cpuBefore);
    const last = await ledger.allFlipped(timeoutMs);
    const since = (name: string, at: number | undefined) => (at ?? NaN) - sentAt.get(nodeOf.get(name)!)!;
    return {
      flipMs: targets.map(([name]) => since(name, ledger.flippedAt.get(name))),
      answerMs: targets.map(([name]) => since(name, answered.get(name))),
      lastFlipMs: last - startedAt,
      requests: targets.length,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    ledger.stop();
    client.close();
  }
}

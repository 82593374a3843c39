// When each reclaimed node's warning goes out: all at once (`--burst`, an availability zone's reclaim as
// EventBridge delivers it) or spread evenly over a while (`--spread 60s`). The watcher's run sends the
// warnings on it; the floor's run sends the same nodes' patches on it, so both are timed from the same moments.
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { regionOf } from "../../harness/cluster/nodes.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import type { StormNode } from "./zoneFleet.ts";

export type StormMode = { kind: "burst" } | { kind: "spread"; overMs: number };

/** Nodes whose warnings go out together, `atMs` after the storm starts. */
export interface Wave {
  atMs: number;
  nodes: StormNode[];
}

export function schedule(nodes: StormNode[], mode: StormMode): Wave[] {
  if (mode.kind === "burst") return [{ atMs: 0, nodes }];
  return nodes.map((node, i) => ({ atMs: (i * mode.overMs) / nodes.length, nodes: [node] }));
}

export function describeMode(mode: StormMode): string {
  return mode.kind === "burst" ? "burst" : `spread over ${(mode.overMs / 1000).toFixed(0)} s`;
}

/**
 * Runs `fire` for each wave at its moment (without waiting for the one before to finish) and resolves once
 * every wave's `fire` has. Returns when each node's wave started (performance.now()).
 */
export async function runWaves(
  waves: Wave[],
  fire: (wave: Wave) => Promise<unknown>,
): Promise<{ startedAt: number; sentAt: Map<string, number> }> {
  const startedAt = performance.now();
  const sentAt = new Map<string, number>();
  const fired: Promise<unknown>[] = [];
  for (const wave of waves) {
    const wait = startedAt + wave.atMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const at = performance.now();
    for (const node of wave.nodes) sentAt.set(node.name, at);
    fired.push(fire(wave));
  }
  await Promise.all(fired);
  return { startedAt, sentAt };
}

/** Sends a wave's spot interruption warnings, ten to a SendMessageBatch, the batches at once. */
export async function sendWarnings(client: SQSClient, queueUrl: string, wave: Wave): Promise<void> {
  const batches: StormNode[][] = [];
  for (let i = 0; i < wave.nodes.length; i += 10) batches.push(wave.nodes.slice(i, i + 10));
  const time = new Date();
  await Promise.all(
    batches.map(async (batch) => {
      const { Failed = [] } = await client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((node, i) => ({
            Id: String(i),
            MessageBody: JSON.stringify(
              buildEventBridgeEvent({
                kind: "spot-interruption",
                instanceId: node.instanceId,
                region: regionOf(node.zone),
                time,
              }),
            ),
          })),
        }),
      );
      if (Failed.length > 0) throw new Error(`SendMessageBatch failed for ${Failed.length} warnings`);
    }),
  );
}

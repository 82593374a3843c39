// Every change of the storm's Deployments as a watch sees it: when each target was first seen with
// compute=fargate, how many times each one's compute changed to fargate, and which of the others had their
// annotations, labels or spec changed at all (their status may move; nothing of theirs may).
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { pollUntil } from "../interruption/pollUntil.ts";
import { resumableWatch } from "../interruption/resumableWatch.ts";

export interface FlipLedger {
  /** performance.now() at which each target was first seen with compute=fargate. */
  readonly flippedAt: ReadonlyMap<string, number>;
  /** Resolves once every target has been seen with compute=fargate; with the last one's moment. */
  allFlipped(timeoutMs: number): Promise<number>;
  /** What the storm did to the Deployments, judged against the contract. */
  verdict(): LedgerVerdict;
  stop(): void;
}

export interface LedgerVerdict {
  /** Targets whose compute changed to fargate other than once, with how many times. */
  notOnce: string[];
  /** Targets whose last-seen reason or interrupted-node is not this storm's. */
  wrongRecord: string[];
  /** Other Deployments whose annotations, labels or spec changed, with what. */
  touched: string[];
}

interface Entry {
  first: V1Deployment;
  last: V1Deployment;
  toFargate: number;
}

const computeOf = (d: V1Deployment) => d.metadata?.annotations?.[Annotation.compute];

/** What of a Deployment may not change unless the storm moves it: its annotations, labels and spec. */
const kept = (d: V1Deployment) =>
  JSON.stringify([d.metadata?.annotations ?? {}, d.metadata?.labels ?? {}, d.metadata?.generation]);

/** What the watch has seen so far. */
class Seen {
  readonly entries = new Map<string, Entry>();
  readonly flippedAt = new Map<string, number>();
  readonly wanted: ReadonlySet<string>;
  failure: Error | undefined;

  constructor(wanted: ReadonlySet<string>) {
    this.wanted = wanted;
  }

  onDeployment(object: V1Deployment): void {
    const name = object.metadata?.name ?? "";
    if (!this.wanted.has(name)) return;
    const entry = this.entries.get(name);
    if (entry === undefined) {
      this.entries.set(name, { first: object, last: object, toFargate: 0 });
      return;
    }
    if (computeOf(object) === "fargate" && computeOf(entry.last) !== "fargate") {
      entry.toFargate++;
      if (!this.flippedAt.has(name)) this.flippedAt.set(name, performance.now());
    }
    entry.last = object;
  }

  check(): void {
    if (this.failure) throw this.failure;
  }
}

/**
 * Starts watching and resolves once every Deployment has been listed. `targets`: Deployment → the node whose
 * interruption must move it; `others`: Deployments nothing may change.
 */
export async function startFlipLedger(
  kc: KubeConfig,
  namespace: string,
  labelSelector: string,
  targets: ReadonlyMap<string, string>,
  others: readonly string[],
): Promise<FlipLedger> {
  const seen = new Seen(new Set([...targets.keys(), ...others]));
  const watch = await resumableWatch<V1Deployment>(
    kc,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    { labelSelector },
    (_type, object) => seen.onDeployment(object),
    (err) => (seen.failure ??= err),
  );
  try {
    await listed(seen, targets);
  } catch (err) {
    watch.stop();
    throw err;
  }
  return {
    flippedAt: seen.flippedAt,
    allFlipped: (timeoutMs) => allFlipped(seen, targets.size, timeoutMs),
    verdict: () => verdictOf(seen.entries, targets, others),
    stop: () => watch.stop(),
  };
}

/** Resolves once the watch has listed every Deployment, none of the targets on fargate yet. */
async function listed(seen: Seen, targets: ReadonlyMap<string, string>): Promise<void> {
  const { entries, wanted } = seen;
  await pollUntil(
    `the watch to list ${wanted.size} Deployments`,
    () => (seen.check(), entries.size === wanted.size),
    {
      timeoutMs: 60_000,
      intervalMs: 20,
    },
  );
  const already = [...targets.keys()].filter((name) => computeOf(entries.get(name)!.first) === "fargate");
  if (already.length > 0) throw new Error(`${already.length} targets were on fargate before the storm`);
}

async function allFlipped(seen: Seen, targets: number, timeoutMs: number): Promise<number> {
  const { flippedAt } = seen;
  await pollUntil(
    `${targets} Deployments to show compute=fargate`,
    () => (seen.check(), flippedAt.size === targets),
    {
      timeoutMs,
      intervalMs: 5,
    },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message} (${flippedAt.size} there)`, { cause: err });
  });
  return Math.max(...flippedAt.values());
}

function verdictOf(
  entries: ReadonlyMap<string, Entry>,
  targets: ReadonlyMap<string, string>,
  others: readonly string[],
): LedgerVerdict {
  const notOnce: string[] = [];
  const wrongRecord: string[] = [];
  for (const [name, node] of targets) {
    const entry = entries.get(name)!;
    if (entry.toFargate !== 1) notOnce.push(`${name} (${entry.toFargate}×)`);
    const annotations = entry.last.metadata?.annotations ?? {};
    if (
      annotations[Annotation.reason] !== "spot-interruption" ||
      !annotations[Annotation.interruptedNode]?.startsWith(`${node} (`)
    ) {
      wrongRecord.push(
        `${name}: reason=${annotations[Annotation.reason]}, interrupted-node=${annotations[Annotation.interruptedNode]}`,
      );
    }
  }
  const touched = others.flatMap((name) => {
    const entry = entries.get(name)!;
    return kept(entry.first) === kept(entry.last) ? [] : [`${name}: compute=${computeOf(entry.last) ?? "-"}`];
  });
  return { notOnce, wrongRecord, touched };
}

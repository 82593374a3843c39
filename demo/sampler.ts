// Polls the sample app's Deployment, pods and EndpointSlices a few times a second. Each poll is a snapshot
// (what the demo's steps wait on) and a timeline sample: ready replicas by compute type and ready endpoints.
import { setTimeout as sleep } from "node:timers/promises";
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { NodeLabel } from "../core/contract.ts";
import { statusCodeOf } from "../harness/cluster/api-errors.ts";
import { errorMessage } from "../harness/cluster/wait.ts";

export type ComputeKind = "spot" | "fargate" | "on-demand";

export interface PodState {
  name: string;
  node: string | undefined;
  compute: ComputeKind | undefined;
  ready: boolean;
  /** The pod-template label the Fargate profile selects on (`compute-type`). */
  computeLabel: string | undefined;
}

export interface Snapshot {
  /** Epoch milliseconds when the poll finished. */
  at: number;
  deployment: V1Deployment;
  /** Pods not being deleted. */
  pods: PodState[];
  /** Names of the pods behind the Service's ready endpoints. */
  readyEndpoints: string[];
}

export interface Sample {
  /** Milliseconds since the demo started. */
  t: number;
  spot: number;
  fargate: number;
  /** Ready replicas on any other compute (none expected). */
  other: number;
  endpoints: number;
}

export interface SamplerOptions {
  kc: KubeConfig;
  namespace: string;
  app: string;
  startedAt: number;
  intervalMs?: number;
  /** Called once per node the app's pods run on, with its compute type. */
  onNode?: (name: string, compute: ComputeKind | undefined) => void;
}

type Waiter = (snapshot: Snapshot) => void;

export class ClusterSampler {
  readonly samples: Sample[] = [];
  /** Every snapshot, so a wait that starts late still finds the moment its condition first held. */
  readonly history: Snapshot[] = [];
  private lastError: unknown;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly nodeCompute = new Map<string, ComputeKind | undefined>();
  private readonly options: SamplerOptions;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;

  constructor(options: SamplerOptions) {
    this.options = options;
    this.apps = options.kc.makeApiClient(AppsV1Api);
    this.core = options.kc.makeApiClient(CoreV1Api);
    this.discovery = options.kc.makeApiClient(DiscoveryV1Api);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /**
   * The first snapshot taken at or after `since` (epoch ms; default now) for which `probe` returns a value
   * (not undefined/false), waiting for new ones. Fails after `timeoutMs` naming what it waited for.
   */
  until<T>(
    description: string,
    probe: (snapshot: Snapshot) => T | undefined | false,
    timeoutMs: number,
    since: number = Date.now(),
  ): Promise<{ value: T; snapshot: Snapshot }> {
    return new Promise((resolve, reject) => {
      /** True once settled: the probe held, or threw (a condition that can no longer come true). */
      const check = (snapshot: Snapshot): boolean => {
        try {
          const value = probe(snapshot);
          if (value === undefined || value === false) return false;
          resolve({ value, snapshot });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
        return true;
      };
      if (this.history.some((snapshot) => snapshot.at >= since && check(snapshot))) return;
      const waiter: Waiter = (snapshot) => {
        if (check(snapshot)) done();
      };
      const timer = setTimeout(() => {
        done();
        const error =
          this.lastError === undefined ? "" : `; last poll error: ${errorMessage(this.lastError)}`;
        reject(new Error(`timed out after ${timeoutMs / 1000}s waiting for ${description}${error}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  private async run(): Promise<void> {
    const interval = this.options.intervalMs ?? 200;
    while (this.running) {
      const started = Date.now();
      try {
        const snapshot = await this.poll();
        this.history.push(snapshot);
        this.lastError = undefined;
        this.samples.push(toSample(snapshot, this.options.startedAt));
        for (const waiter of [...this.waiters]) waiter(snapshot);
      } catch (err) {
        this.lastError = err;
      }
      await sleep(Math.max(0, interval - (Date.now() - started)));
    }
  }

  private async poll(): Promise<Snapshot> {
    const { namespace, app } = this.options;
    const [deployment, pods, slices] = await Promise.all([
      this.apps.readNamespacedDeployment({ namespace, name: app }),
      this.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` }),
      this.discovery.listNamespacedEndpointSlice({
        namespace,
        labelSelector: `kubernetes.io/service-name=${app}`,
      }),
    ]);
    const live = pods.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
    const states = await Promise.all(live.map((p) => this.podState(p)));
    const readyEndpoints = slices.items
      .flatMap((s) => s.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true)
      .map((e) => e.targetRef?.name ?? "");
    return { at: Date.now(), deployment, pods: states, readyEndpoints };
  }

  private async podState(pod: V1Pod): Promise<PodState> {
    const node = pod.spec?.nodeName;
    return {
      name: pod.metadata?.name ?? "",
      node,
      compute: node === undefined ? undefined : await this.computeOf(node),
      ready: pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true,
      computeLabel: pod.metadata?.labels?.["compute-type"],
    };
  }

  /** Node labels do not change, so each node is read once. */
  private async computeOf(name: string): Promise<ComputeKind | undefined> {
    if (this.nodeCompute.has(name)) return this.nodeCompute.get(name);
    let compute: ComputeKind | undefined;
    try {
      const labels = (await this.core.readNode({ name })).metadata?.labels ?? {};
      if (labels[NodeLabel.computeType] === "fargate") compute = "fargate";
      else if (labels[NodeLabel.capacityType] === "SPOT") compute = "spot";
      else if (labels[NodeLabel.capacityType] === "ON_DEMAND") compute = "on-demand";
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
    }
    this.nodeCompute.set(name, compute);
    this.options.onNode?.(name, compute);
    return compute;
  }
}

function toSample(snapshot: Snapshot, startedAt: number): Sample {
  const ready = snapshot.pods.filter((p) => p.ready);
  const spot = ready.filter((p) => p.compute === "spot").length;
  const fargate = ready.filter((p) => p.compute === "fargate").length;
  return {
    t: snapshot.at - startedAt,
    spot,
    fargate,
    other: ready.length - spot - fargate,
    endpoints: snapshot.readyEndpoints.length,
  };
}

/** Ready pods of the snapshot on `compute`. */
export function readyOn(snapshot: Snapshot, compute: ComputeKind): PodState[] {
  return snapshot.pods.filter((p) => p.ready && p.compute === compute);
}

// An in-memory index of the cluster's Nodes, kept by an informer, so an event maps instance → node
// without listing every node. The informer is replaced on error (with backoff) and on a periodic resync:
// client-node informers can stall without reporting anything.
import { makeInformer, type Informer, type ObjectCache, type V1Node } from "@kubernetes/client-node";
import { backoff } from "../../core/backoff.ts";
import { instanceIdOf } from "../../core/ec2.ts";
import type { Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";

export interface NodeLookup {
  byInstanceId(instanceId: string): V1Node | undefined;
  byName(name: string): V1Node | undefined;
  all(): V1Node[];
  /** Resolves once the first full list is in. */
  readonly synced: Promise<void>;
}

export interface NodeIndexOptions {
  kube: Kube;
  log: Logger;
  /** Full relist this often, even when nothing failed. */
  resyncMs?: number;
  backoff?: { initialMs: number; maxMs: number };
}

type NodeInformer = Informer<V1Node> & ObjectCache<V1Node>;

export class NodeIndex implements NodeLookup {
  readonly synced: Promise<void>;
  private markSynced!: () => void;
  private readonly nodes = new Map<string, V1Node>();
  private readonly instances = new Map<string, string>();
  private informer: NodeInformer | undefined;
  /** Which informer is current; callbacks of replaced ones are ignored. */
  private generation = 0;
  private stopped = true;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly options: Required<NodeIndexOptions>;

  constructor(options: NodeIndexOptions) {
    this.options = { resyncMs: 5 * 60_000, backoff: { initialMs: 1_000, maxMs: 30_000 }, ...options };
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  byInstanceId(instanceId: string): V1Node | undefined {
    const name = this.instances.get(instanceId);
    return name === undefined ? undefined : this.nodes.get(name);
  }

  byName(name: string): V1Node | undefined {
    return this.nodes.get(name);
  }

  all(): V1Node[] {
    return [...this.nodes.values()];
  }

  /** Starts watching; returns at once (await `synced` for the first list). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.replaceInformer("start");
    this.resyncTimer = setInterval(() => void this.replaceInformer("resync"), this.options.resyncMs);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.restartTimer);
    clearInterval(this.resyncTimer);
    const informer = this.informer;
    this.informer = undefined;
    await informer?.stop();
  }

  private async replaceInformer(why: string): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const { kube, log } = this.options;
    const informer: NodeInformer = makeInformer(kube.config, "/api/v1/nodes", () => kube.core.listNode());
    const current = () => generation === this.generation;
    let failed = false;
    informer.on("add", (node) => current() && this.put(node));
    informer.on("update", (node) => current() && this.put(node));
    informer.on("delete", (node) => current() && this.remove(node));
    informer.on("error", (err: unknown) => {
      failed = true;
      if (!current()) return;
      log.warn({ err }, "node informer failed; restarting it");
      this.scheduleRestart();
    });
    await informer.start();
    // a failed list keeps the previous informer (and its cache) until the restart succeeds
    if (!current() || failed) {
      await informer.stop();
      return;
    }
    const previous = this.informer;
    this.informer = informer;
    await previous?.stop();
    this.failures = 0;
    this.rebuild(informer.list());
    log.debug({ nodes: this.nodes.size, why }, "node index listed");
    this.markSynced();
  }

  private scheduleRestart(): void {
    if (this.stopped) return;
    const { initialMs, maxMs } = this.options.backoff;
    this.failures++;
    const delay = backoff(this.failures, initialMs, maxMs);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.replaceInformer("restart"), delay);
    this.restartTimer.unref();
  }

  private rebuild(nodes: readonly V1Node[]): void {
    this.nodes.clear();
    this.instances.clear();
    for (const node of nodes) this.put(node);
  }

  private put(node: V1Node): void {
    const name = node.metadata?.name;
    if (name === undefined) return;
    const previous = this.nodes.get(name);
    const oldId = previous ? instanceIdOf(previous) : undefined;
    if (oldId !== undefined && this.instances.get(oldId) === name) this.instances.delete(oldId);
    this.nodes.set(name, node);
    const id = instanceIdOf(node);
    if (id !== undefined) this.instances.set(id, name);
  }

  private remove(node: V1Node): void {
    const name = node.metadata?.name;
    if (name === undefined) return;
    this.nodes.delete(name);
    const id = instanceIdOf(node);
    if (id !== undefined && this.instances.get(id) === name) this.instances.delete(id);
  }
}

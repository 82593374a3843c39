// A slim mirror of one kind of object, kept current by list + watch: every object is cut down to what the
// watcher reads before it is kept (client-node's informers keep whole objects, managedFields and all), the
// list comes in pages of plain JSON, and the informer is replaced on error (with backoff) and on a periodic
// resync, because client-node informers can stall without reporting anything.
import { ListWatch, Watch, type KubernetesObject } from "@kubernetes/client-node";
import { backoff } from "../../core/backoff.ts";
import { listPaged, type Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";

/** What the mirror keeps of an object (with its name, namespace and resourceVersion). */
export type Slim<T extends KubernetesObject> = (raw: KubernetesObject) => T;

/** Where the mirrored objects go. */
export interface MirrorSink<T extends KubernetesObject> {
  /** A full list: the objects now, replacing all before. */
  replace(objects: readonly T[]): void;
  put(object: T): void;
  remove(object: KubernetesObject): void;
}

export interface MirrorOptions<T extends KubernetesObject> {
  kube: Kube;
  log: Logger;
  /** The collection, e.g. `/api/v1/pods` (all namespaces) or `/apis/apps/v1/namespaces/web/deployments`. */
  path: string;
  fieldSelector?: string;
  slim: Slim<T>;
  sink: MirrorSink<T>;
  /** Full relist this often, even when nothing failed. */
  resyncMs: number;
  backoff?: { initialMs: number; maxMs: number };
}

export class Mirror<T extends KubernetesObject> {
  readonly synced: Promise<void>;
  private markSynced!: () => void;
  private informer: ListWatch<T> | undefined;
  /** Which informer is current; callbacks of replaced ones are ignored. */
  private generation = 0;
  private stopped = true;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly options: MirrorOptions<T> & { backoff: { initialMs: number; maxMs: number } };

  constructor(options: MirrorOptions<T>) {
    this.options = { backoff: { initialMs: 1_000, maxMs: 30_000 }, ...options };
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  /** Starts listing and watching; returns at once (await `synced` for the first list). */
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
    const { log, path, sink } = this.options;
    const informer = this.newInformer();
    const current = () => generation === this.generation;
    // until its list is in, a new informer's objects are not the mirror's: `replace` takes them all at once
    let listed = false;
    let failed = false;
    const put = (object: T) => current() && listed && sink.put(object);
    informer.on("add", put);
    informer.on("update", put);
    informer.on("delete", (object) => current() && listed && sink.remove(object));
    informer.on("error", (err: unknown) => {
      failed = true;
      if (!current()) return;
      log.warn({ err, path }, "informer failed; restarting it");
      this.scheduleRestart();
    });
    await informer.start();
    // a failed list keeps the previous informer (and the mirror as it was) until the restart succeeds
    if (!current() || failed) {
      await informer.stop();
      return;
    }
    const previous = this.informer;
    this.informer = informer;
    await previous?.stop();
    this.failures = 0;
    const objects = informer.list();
    sink.replace(objects);
    listed = true;
    log.debug({ path, objects: objects.length, why }, "mirror listed");
    this.markSynced();
  }

  private newInformer(): ListWatch<T> {
    const { kube, path, fieldSelector, slim } = this.options;
    const list = async () => {
      const items: T[] = [];
      const query: Record<string, string> = fieldSelector === undefined ? {} : { fieldSelector };
      const resourceVersion = await listPaged(kube.config, path, query, (item) =>
        items.push(slim(item as KubernetesObject)),
      );
      return { metadata: { resourceVersion }, items };
    };
    return new ListWatch(path, new SlimmingWatch(kube, slim), list, false, undefined, fieldSelector);
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
}

/** client-node's watch, with each object slimmed before the informer sees (and caches) it. */
class SlimmingWatch extends Watch {
  private readonly slim: (raw: KubernetesObject) => KubernetesObject;

  constructor(kube: Kube, slim: (raw: KubernetesObject) => KubernetesObject) {
    super(kube.config);
    this.slim = slim;
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      (phase, object: KubernetesObject) =>
        callback(phase, phase === "ERROR" || phase === "BOOKMARK" ? object : this.slim(object)),
      done,
    );
  }
}

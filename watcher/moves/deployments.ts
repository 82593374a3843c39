// The one door to the opted-in Deployments: read, list, and the only writes the watcher makes to them,
// each guarded by the resourceVersion it read. Migration, recovery, follow-ups and drift repair use this
// narrow interface, so their conflict, retry and rollback paths are tested without an apiserver.
import {
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1DeploymentStrategy,
} from "@kubernetes/client-node";
import fastJsonPatch from "fast-json-patch";
import { setTimeout as sleep } from "node:timers/promises";
import { backoff } from "../../core/backoff.ts";
import { countsAsOptedIn, type OptInScope } from "../../core/contract.ts";
import { strategyMergePatch } from "../../core/moveStrategy.ts";
import { RetryableError } from "../../core/errors.ts";
import { classify, statusOf, WriteLane, type Kube } from "../../core/kube.ts";

export interface DeploymentRef {
  namespace: string;
  name: string;
}

export function refOf(deployment: V1Deployment): DeploymentRef {
  return { namespace: deployment.metadata?.namespace ?? "", name: deployment.metadata?.name ?? "" };
}

/** `namespace/name`, for logs, messages and maps. */
export function keyOf(ref: DeploymentRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** Annotations or labels to set; `null` removes one. */
export type KeyPatch = Record<string, string | null>;

/** What the watcher writes on a Deployment: metadata, and the strategy a move rolls with. */
export interface DeploymentPatch {
  annotations?: KeyPatch;
  labels?: KeyPatch;
  /** `spec.strategy` as it is to be stored, whole. */
  strategy?: V1DeploymentStrategy;
}

export interface Deployments {
  /** The opted-in Deployments in the watched namespaces. */
  list(): Promise<V1Deployment[]>;
  /** The Deployment as stored now; a PermanentError (`not-found`) once it is gone. */
  read(ref: DeploymentRef): Promise<V1Deployment>;
  /**
   * Merge-patches annotations, labels and the strategy, stored only if `current` is still the stored
   * version (a RetryableError with status 409 otherwise).
   */
  patch(current: V1Deployment, patch: DeploymentPatch, options?: PatchOptions): Promise<V1Deployment>;
  /** Writes `updated`'s difference from `current`, stored only if `current` is still the stored version. */
  replace(current: V1Deployment, updated: V1Deployment): Promise<V1Deployment>;
}

export interface PatchOptions {
  dryRun?: boolean;
  /** Its place in the write budget's order (default: routine). */
  lane?: WriteLane;
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
/** The field manager of every write the watcher makes. */
export const FIELD_MANAGER = "spot-orchestrator";

/** The Deployments of the cluster, through the watcher's (rate-limited) client. */
export class KubeDeployments implements Deployments {
  private readonly kube: Kube;
  private readonly scope: OptInScope;

  constructor(kube: Kube, scope: OptInScope) {
    this.kube = kube;
    this.scope = scope;
  }

  async list(): Promise<V1Deployment[]> {
    const { apps } = this.kube;
    try {
      const lists =
        this.scope.namespaces.length === 0
          ? [await apps.listDeploymentForAllNamespaces({})]
          : await Promise.all(
              this.scope.namespaces.map((namespace) => apps.listNamespacedDeployment({ namespace })),
            );
      return lists.flatMap((list) => list.items).filter((d) => countsAsOptedIn(d, this.scope));
    } catch (err) {
      throw classify(err, "list deployments");
    }
  }

  async read(ref: DeploymentRef): Promise<V1Deployment> {
    try {
      return await this.kube.apps.readNamespacedDeployment(ref);
    } catch (err) {
      throw classify(err, `read deployment ${keyOf(ref)}`);
    }
  }

  async patch(
    current: V1Deployment,
    patch: DeploymentPatch,
    options: PatchOptions = {},
  ): Promise<V1Deployment> {
    const ref = refOf(current);
    await this.kube.limiter.take(options.lane ?? WriteLane.routine);
    const { strategy, ...keys } = patch;
    const metadata = { ...keys, resourceVersion: current.metadata?.resourceVersion };
    const spec = strategy === undefined ? {} : { spec: { strategy: strategyMergePatch(strategy) } };
    try {
      return await this.kube.apps.patchNamespacedDeployment(
        {
          ...ref,
          body: { metadata, ...spec },
          fieldManager: FIELD_MANAGER,
          ...(options.dryRun ? { dryRun: "All" } : {}),
        },
        mergePatch,
      );
    } catch (err) {
      throw classify(err, `patch deployment ${keyOf(ref)}`);
    }
  }

  async replace(current: V1Deployment, updated: V1Deployment): Promise<V1Deployment> {
    const ref = refOf(current);
    await this.kube.limiter.take(WriteLane.routine);
    const body = [
      // a JSON patch cannot carry a precondition: the test makes the write fail (422) after a change
      { op: "test", path: "/metadata/resourceVersion", value: current.metadata?.resourceVersion ?? "" },
      // plain JSON on both sides: objects read with client-node carry Date instances that do not compare
      ...fastJsonPatch.compare(asJson(current), asJson(updated)),
    ];
    try {
      return await this.kube.apps.patchNamespacedDeployment(
        { ...ref, body, fieldManager: FIELD_MANAGER },
        jsonPatch,
      );
    } catch (err) {
      throw classify(err, `patch deployment ${keyOf(ref)}`);
    }
  }
}

function asJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export interface UpdateOptions {
  /** Tries in all, the first included; default 5. */
  attempts?: number;
  /** First wait between tries, doubling; default 200 ms. */
  retryBaseMs?: number;
  dryRun?: boolean;
  /** Its place in the write budget's order (default: routine). */
  lane?: WriteLane;
  /** Stops retrying (the leader's term ended). */
  signal?: AbortSignal;
}

export type UpdateResult =
  { written: true; deployment: V1Deployment } | { written: false; deployment: V1Deployment };

/**
 * A read-modify-write of a Deployment's metadata that loses no concurrent update: `change` decides the
 * patch from the version at hand (undefined: nothing to write), the write is guarded by that version, and
 * after a conflict or a transient failure it is decided again on the version stored now. Throws the last
 * error once `attempts` are spent, and a PermanentError at once (e.g. the Deployment was deleted).
 */
export async function updateDeployment(
  deployments: Deployments,
  start: V1Deployment,
  change: (current: V1Deployment) => DeploymentPatch | undefined,
  options: UpdateOptions = {},
): Promise<UpdateResult> {
  const { attempts = 5, retryBaseMs = 200, dryRun = false, signal, lane } = options;
  let current = start;
  for (let attempt = 1; ; attempt++) {
    try {
      if (attempt > 1) current = await deployments.read(refOf(current));
      const patch = change(current);
      if (patch === undefined) return { written: false, deployment: current };
      return { written: true, deployment: await deployments.patch(current, patch, { dryRun, lane }) };
    } catch (err) {
      if (!(err instanceof RetryableError) || attempt >= attempts || signal?.aborted) throw err;
      // a conflict is decided again at once on the stored version; anything else waits a little first
      if (statusOf(err) !== 409) await sleep(backoff(attempt, retryBaseMs, 5_000), undefined, { signal });
    }
  }
}

/** True when `err` says the change lost a race with another writer (conflict or a failed JSON-patch test). */
export function isConflict(err: unknown): boolean {
  const status = statusOf(err);
  return status === 409 || status === 422;
}

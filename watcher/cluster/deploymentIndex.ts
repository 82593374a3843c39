// The Deployments of the watched namespaces, kept current by a watch, so an interruption finds the
// Deployments of the pods on its node without reading each one: opted-in ones whole (but managedFields),
// the others by name and selector only. The resourceVersion kept guards a flip as a fresh read would: a
// stale one is refused with a conflict, and the flip reads the Deployment again.
import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import type { Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import { keyOf, refOf, type DeploymentRef } from "../moves/deployments.ts";
import { Mirror } from "./mirror.ts";
import { countsAsOptedIn, type OptInScope } from "../../core/contract.ts";

export interface DeploymentLookup {
  /** The Deployment as last seen: whole when it counts as opted in, else its name and selector only. */
  get(ref: DeploymentRef): V1Deployment | undefined;
  /**
   * The copy kept of `seen`'s Deployment once the watch has delivered `seen`'s version (the copy is then
   * that version or newer: a watch delivers an object's versions in order), whole (counted as opted in);
   * undefined otherwise, and the caller reads it from the apiserver.
   */
  notOlderThan(seen: V1Deployment): V1Deployment | undefined;
  readonly synced: Promise<void>;
}

/**
 * The resourceVersions a watch delivered for each object, the latest `kept` of each: whether the copy at hand
 * is a given version or newer, without comparing resourceVersions (opaque by the API's rules).
 */
export class DeliveredVersions {
  private readonly versions = new Map<string, string[]>();
  private readonly kept: number;

  constructor(kept = 8) {
    this.kept = kept;
  }

  delivered(key: string, version: string): void {
    const versions = this.versions.get(key) ?? [];
    versions.push(version);
    if (versions.length > this.kept) versions.shift();
    this.versions.set(key, versions);
  }

  /** Whether `version` of `key` was delivered (and not forgotten since); false when not known. */
  has(key: string, version: string): boolean {
    return this.versions.get(key)?.includes(version) ?? false;
  }

  forget(key: string): void {
    this.versions.delete(key);
  }
}

/** What is kept of a Deployment: an opted-in one without its managedFields, another by name and selector. */
export function slimDeployment(scope: OptInScope): (raw: KubernetesObject) => V1Deployment {
  return (raw) => {
    const deployment = raw as V1Deployment;
    const { managedFields: _managedFields, ...metadata } = deployment.metadata ?? {};
    if (countsAsOptedIn(deployment, scope)) return { ...deployment, metadata };
    const { name, namespace, resourceVersion, uid } = metadata;
    return {
      metadata: { name, namespace, resourceVersion, uid },
      ...(deployment.spec ? { spec: { selector: deployment.spec.selector } } : {}),
    } as V1Deployment;
  };
}

export class DeploymentIndex implements DeploymentLookup {
  readonly synced: Promise<void>;
  private readonly deployments = new Map<string, V1Deployment>();
  /** The versions of each opted-in Deployment the watch delivered. */
  private readonly versions = new DeliveredVersions();
  private readonly mirrors: Mirror<V1Deployment>[];

  constructor(options: { kube: Kube; log: Logger; scope: OptInScope; resyncMs?: number }) {
    const { scope } = options;
    // one collection: all namespaces, or each watched one
    const namespaces = scope.namespaces.length === 0 ? [undefined] : scope.namespaces;
    this.mirrors = namespaces.map(
      (namespace) =>
        new Mirror<V1Deployment>({
          ...options,
          path:
            namespace === undefined
              ? "/apis/apps/v1/deployments"
              : `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`,
          slim: slimDeployment(scope),
          resyncMs: options.resyncMs ?? 10 * 60_000,
          sink: {
            replace: (deployments) => this.replace(namespace, deployments),
            put: (deployment) => this.put(deployment),
            remove: (deployment) => this.remove(keyOf(refOf(deployment))),
          },
        }),
    );
    this.synced = Promise.all(this.mirrors.map((m) => m.synced)).then(() => undefined);
  }

  get(ref: DeploymentRef): V1Deployment | undefined {
    return this.deployments.get(keyOf(ref));
  }

  notOlderThan(seen: V1Deployment): V1Deployment | undefined {
    // only whole copies have versions kept (put), and a Deployment deleted or relisted is forgotten
    const key = keyOf(refOf(seen));
    const version = seen.metadata?.resourceVersion;
    return version !== undefined && this.versions.has(key, version) ? this.deployments.get(key) : undefined;
  }

  start(): void {
    for (const mirror of this.mirrors) mirror.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.mirrors.map((m) => m.stop()));
  }

  /** A full list of one collection (`namespace`, or all): its entries are replaced, the others kept. */
  private replace(namespace: string | undefined, deployments: readonly V1Deployment[]): void {
    for (const [key, d] of this.deployments) {
      if (namespace === undefined || d.metadata?.namespace === namespace) this.remove(key);
    }
    for (const d of deployments) this.put(d);
  }

  private put(deployment: V1Deployment): void {
    const key = keyOf(refOf(deployment));
    this.deployments.set(key, deployment);
    const version = deployment.metadata?.resourceVersion;
    if (deployment.status === undefined || version === undefined) this.versions.forget(key);
    else this.versions.delivered(key, version);
  }

  private remove(key: string): void {
    this.deployments.delete(key);
    this.versions.forget(key);
  }
}

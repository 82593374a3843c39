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
  readonly synced: Promise<void>;
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
            put: (deployment) => this.deployments.set(keyOf(refOf(deployment)), deployment),
            remove: (deployment) => this.deployments.delete(keyOf(refOf(deployment))),
          },
        }),
    );
    this.synced = Promise.all(this.mirrors.map((m) => m.synced)).then(() => undefined);
  }

  get(ref: DeploymentRef): V1Deployment | undefined {
    return this.deployments.get(keyOf(ref));
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
      if (namespace === undefined || d.metadata?.namespace === namespace) this.deployments.delete(key);
    }
    for (const d of deployments) this.deployments.set(keyOf(refOf(d)), d);
  }
}

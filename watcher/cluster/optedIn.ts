// The opted-in Deployments in the watched namespaces.
import type { V1Deployment } from "@kubernetes/client-node";
import type { Kube } from "../../core/kube.ts";
import { countsAsOptedIn, type Scope } from "./owners.ts";

export async function listOptedInDeployments(kube: Kube, scope: Scope): Promise<V1Deployment[]> {
  const lists =
    scope.namespaces.length === 0
      ? [await kube.apps.listDeploymentForAllNamespaces({})]
      : await Promise.all(
          scope.namespaces.map((namespace) => kube.apps.listNamespacedDeployment({ namespace })),
        );
  return lists.flatMap((list) => list.items).filter((d) => countsAsOptedIn(d, scope));
}

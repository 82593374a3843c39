import type { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import { loadKubeConfig } from "../../harness/cluster/kubeconfig.ts";
import "./provided.ts";

/** Path of the admin kubeconfig of the cluster under test (E2E_KUBECONFIG or the local kwok cluster). */
export function testKubeconfigPath(): string {
  return inject("kubeconfigPath");
}

/** A fresh KubeConfig for the cluster under test; build API clients with `kc.makeApiClient(CoreV1Api)`. */
export function testKubeConfig(): KubeConfig {
  return loadKubeConfig(testKubeconfigPath());
}

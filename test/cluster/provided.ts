// Values the integration global setup hands to test files through vitest's provide/inject.
export interface ClusterContext {
  /** admin kubeconfig of the cluster under test */
  kubeconfigPath: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfigPath: string;
  }
}

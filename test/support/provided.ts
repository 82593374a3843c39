// Values the integration global setup hands to test files through vitest's provide/inject.
declare module "vitest" {
  export interface ProvidedContext {
    /** admin kubeconfig of the cluster under test */
    kubeconfigPath: string;
  }
}

export {};

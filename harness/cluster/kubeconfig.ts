import { existsSync } from "node:fs";
import { AuthenticationV1Api, KubeConfig, VersionApi } from "@kubernetes/client-node";

export function loadKubeConfig(path: string): KubeConfig {
  if (!existsSync(path)) throw new Error(`kubeconfig '${path}' does not exist`);
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** True when the apiserver behind `path` answers /version within `timeoutMs`. */
export async function apiserverAnswers(path: string, timeoutMs = 3_000): Promise<boolean> {
  if (!existsSync(path)) return false;
  try {
    const version = loadKubeConfig(path).makeApiClient(VersionApi).getCode();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("timeout")), timeoutMs).unref(),
    );
    await Promise.race([version, timeout]);
    return true;
  } catch {
    return false;
  }
}

/**
 * The username the kubeconfig authenticates as: the orchestrator's identity when the webhook and the watcher
 * run with this kubeconfig, as the stack and the watcher's tests run them.
 */
export async function usernameOf(kc: KubeConfig): Promise<string> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
  const username = review.status?.userInfo?.username;
  if (!username) throw new Error("the apiserver did not say who the kubeconfig's user is");
  return username;
}

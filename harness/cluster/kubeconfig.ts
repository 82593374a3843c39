import { existsSync } from "node:fs";
import { KubeConfig, VersionApi } from "@kubernetes/client-node";

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

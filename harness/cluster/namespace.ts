import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { ignoreNotFound } from "./api-errors.ts";
import { waitFor } from "./wait.ts";

/** Label on every namespace the tests create, so leftovers are easy to find and sweep. */
export const testNamespaceLabel = "spot-orchestrator.io/test-namespace";

/**
 * Creates `<prefix>-xxxxx` and waits for its default service account (pods are rejected until the
 * service account controller has made it).
 */
export async function createNamespace(
  kc: KubeConfig,
  prefix = "test",
  labels: Record<string, string> = {},
): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const created = await core.createNamespace({
    body: { metadata: { generateName: `${prefix}-`, labels: { [testNamespaceLabel]: "true", ...labels } } },
  });
  const name = created.metadata?.name ?? "";
  await waitFor(`service account ${name}/default`, () =>
    core.readNamespacedServiceAccount({ namespace: name, name: "default" }),
  );
  return name;
}

/** Deletes the namespace; with `wait`, until the namespace controller has emptied and removed it. */
export async function deleteNamespace(kc: KubeConfig, name: string, { wait = false } = {}): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await ignoreNotFound(() => core.deleteNamespace({ name }));
  if (!wait) return;
  await waitFor(
    `namespace ${name} to be deleted`,
    async () => (await ignoreNotFound(() => core.readNamespace({ name }))) === undefined,
    { timeoutMs: 120_000 },
  );
}

// A namespace of the cluster under test for a describe block (or file).
import { afterAll, beforeAll } from "vitest";
import { createNamespace, deleteNamespace } from "../../harness/cluster/namespace.ts";
import { testKubeConfig } from "./testCluster.ts";

/**
 * A namespace for the enclosing describe block (or file): created before its tests, deleted after.
 * Read `.name` inside tests and hooks, not at collection time.
 */
export function useNamespace(
  prefix = "test",
  labels: Record<string, string> = {},
): { readonly name: string } {
  let name: string | undefined;
  beforeAll(async () => {
    name = await createNamespace(testKubeConfig(), prefix, labels);
  });
  afterAll(async () => {
    if (name) await deleteNamespace(testKubeConfig(), name);
  });
  return {
    get name(): string {
      if (!name) throw new Error("useNamespace().name read before beforeAll ran");
      return name;
    },
  };
}

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { accessList, WATCHER_API_CALLS } from "./apiCalls.ts";

const GROUPS: Record<string, string> = {
  apps: "apps",
  core: "",
  discovery: "discovery.k8s.io",
  coordination: "coordination.k8s.io",
  events: "events.k8s.io",
  scheduling: "scheduling.k8s.io",
  policy: "policy",
};
const VERBS: Record<string, string> = {
  read: "get",
  list: "list",
  create: "create",
  replace: "update",
  patch: "patch",
  delete: "delete",
};
const CALL =
  /\b(apps|core|discovery|coordination|events|scheduling|policy)\.(read|list|create|replace|patch|delete)(\w+?)(?:ForAllNamespaces)?\(/g;
/** A collection the watcher mirrors by list + watch: `"/api/v1/pods"`, `"/apis/apps/v1/deployments"`. */
const MIRRORED = /"\/apis?\/(?:([\w.]+)\/)?v1\/(\w+)"/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((f) => f.isFile() && f.name.endsWith(".ts") && !f.name.endsWith(".test.ts"))
    .map((f) => readFileSync(join(f.parentPath, f.name), "utf8"));
}

/** `NamespacedReplicaSet` → `replicasets`, `EndpointSlice` → `endpointslices`, `PriorityClass` → `priorityclasses`. */
function resourceOf(kind: string): string {
  const singular = kind.replace(/^Namespaced/, "").toLowerCase();
  return singular.endsWith("s") ? `${singular}es` : `${singular}s`;
}

/** The calls the watcher's source makes: client-node API methods and mirrored collections. */
function callsInSource(): string[] {
  const calls = new Set<string>();
  for (const text of sources(new URL(".", import.meta.url).pathname)) {
    for (const [, api, verb, kind] of text.matchAll(CALL)) {
      calls.add(`${GROUPS[api!]}/${resourceOf(kind!)}/${VERBS[verb!]}`);
    }
    for (const [, group = "", resource] of text.matchAll(MIRRORED)) {
      calls.add(`${group}/${resource}/list`).add(`${group}/${resource}/watch`);
    }
  }
  return [...calls].sort();
}

describe("the watcher's API calls", () => {
  it("are exactly the calls its code makes", () => {
    const declared = [...accessList("cluster"), ...accessList("lease")].map((a) => a.join("/")).sort();
    expect(declared).toEqual(callsInSource());
  });

  it("say why each is needed", () => {
    for (const access of WATCHER_API_CALLS) expect(access.why).not.toBe("");
  });
});

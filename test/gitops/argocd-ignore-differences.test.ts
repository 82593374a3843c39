// The chart README tells Argo CD users (default client-side diff) which fields to ignore. This checks that
// those jqPathExpressions, applied by gojq as Argo CD applies them, hide every change the webhook and the
// watcher make over a Deployment's life: the changes come from running the real mutating handler and
// placement function over every shape of placement a manifest can have, not from a hand-written list.
import type { V1Deployment, V1PodSpec } from "@kubernetes/client-node";
import fastJsonPatch from "fast-json-patch";
import { describe, expect, it } from "vitest";
import { Annotation, type Compute } from "../../core/contract.ts";
import { SURGE_STRATEGY } from "../../core/moveStrategy.ts";
import type { PlacementConfig } from "../../core/placement.ts";
import { mutate } from "../../webhook/admission/mutate.ts";
import { ORCHESTRATOR, placement } from "../support/admissionReviews.ts";
import { argoNormalize, readmeIgnoreDifferences } from "./argocd.ts";

const { applyPatch, compare } = fastJsonPatch;

const placementFields: Record<string, Partial<V1PodSpec>> = {
  nodeSelector: { nodeSelector: { "eks.amazonaws.com/nodegroup": "web" } },
  tolerations: { tolerations: [{ key: "spot", operator: "Exists", effect: "NoSchedule" }] },
  nodeAffinity: {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: "topology.kubernetes.io/zone", operator: "In", values: ["eu-west-1a"] },
              ],
            },
          ],
        },
      },
    },
  },
  podAntiAffinity: {
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, podAffinityTerm: { topologyKey: "kubernetes.io/hostname" } },
        ],
      },
    },
  },
  topologySpreadConstraints: {
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
    ],
  },
};

/** Every subset of the placement fields, with every compute label a manifest may carry; by shape. */
function manifests(): [string, V1Deployment][] {
  const names = Object.keys(placementFields);
  const all: [string, V1Deployment][] = [];
  for (let mask = 0; mask < 1 << names.length; mask++) {
    const spec: V1PodSpec = { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] };
    const present = names.filter((_name, i) => (mask & (1 << i)) !== 0);
    for (const name of present) {
      const { affinity, ...rest } = placementFields[name]!;
      Object.assign(spec, rest);
      if (affinity) spec.affinity = { ...spec.affinity, ...affinity };
    }
    for (const label of [undefined, "spot", "fargate", "on-demand"]) {
      const shape = [...present, label ? `compute-type=${label}` : "no compute-type"].join(", ");
      all.push([
        shape,
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "web", namespace: "shop", annotations: { [Annotation.enabled]: "true" } },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: "web" } },
            template: {
              metadata: { labels: { app: "web", ...(label ? { "compute-type": label } : {}) } },
              spec: structuredClone(spec),
            },
          },
        },
      ]);
    }
  }
  return all;
}

/** The object stored after `username` writes `object` over `stored`, through the real mutating handler. */
function admit(
  config: PlacementConfig,
  object: V1Deployment,
  stored: V1Deployment | undefined,
  username: string,
): V1Deployment {
  const request = {
    uid: "0",
    kind: { group: "apps", version: "v1", kind: "Deployment" },
    operation: stored === undefined ? ("CREATE" as const) : ("UPDATE" as const),
    userInfo: { username },
    object: object as Record<string, unknown>,
    oldObject: stored as Record<string, unknown> | undefined,
  };
  const response = mutate(request, {
    placement: config,
    orchestratorUsername: ORCHESTRATOR,
    optIn: { namespaces: [], deploymentName: "" },
  });
  const ops =
    response.patch === undefined ? [] : JSON.parse(Buffer.from(response.patch, "base64").toString());
  return applyPatch(structuredClone(object), ops, true, false).newDocument;
}

// What the watcher writes besides compute and reason: every orchestrator annotation the webhook does not
// compute itself (the user's own keys, enabled and health-path, stay out).
const webhookWritten = new Set<string>([
  Annotation.changedAt,
  Annotation.changedBy,
  Annotation.spotPlacement,
]);
const userOwned = new Set<string>([Annotation.enabled, Annotation.healthPath, Annotation.priority]);
const watcherWritten = Object.values(Annotation).filter(
  (key) =>
    !userOwned.has(key) &&
    !webhookWritten.has(key) &&
    key !== Annotation.compute &&
    key !== Annotation.reason,
);

/** The watcher's flip of `compute`, with every annotation it keeps set and the move's surge. */
function watcherFlip(stored: V1Deployment, compute: Compute, reason: string): V1Deployment {
  const next = structuredClone(stored);
  const annotations = next.metadata!.annotations!;
  annotations[Annotation.compute] = compute;
  annotations[Annotation.reason] = reason;
  for (const key of watcherWritten) annotations[key] = `${reason} bookkeeping`;
  next.spec!.strategy = SURGE_STRATEGY;
  return next;
}

/**
 * A Deployment's stored states from git to a stint (on Fargate, or on on-demand nodes, the fallback), a
 * failed recovery and a successful one.
 */
function lifecycle(config: PlacementConfig, git: V1Deployment): [string, V1Deployment][] {
  const created = admit(config, git, undefined, "jane@example.com");
  const states: [string, V1Deployment][] = [["opted in", created]];
  for (const away of ["fargate", "on-demand"] as const) {
    const stint = admit(config, watcherFlip(created, away, "spot-interruption"), created, ORCHESTRATOR);
    const attempt = admit(config, watcherFlip(stint, "spot", "recovery"), stint, ORCHESTRATOR);
    const rollback = admit(config, watcherFlip(attempt, away, "rollback"), attempt, ORCHESTRATOR);
    const recovered = admit(config, watcherFlip(rollback, "spot", "recovery"), rollback, ORCHESTRATOR);
    states.push(
      [`on ${away} after an interruption`, stint],
      [`recovering from ${away}`, attempt],
      [`rolled back to ${away}`, rollback],
      [`recovered from ${away}`, recovered],
    );
  }
  return states;
}

const configs: [string, PlacementConfig][] = [
  ["default settings", placement],
  [
    "a Fargate node selector",
    { ...placement, fargateNodeSelector: { "eks.amazonaws.com/compute-type": "fargate" } },
  ],
];

describe("the chart README's Argo CD ignoreDifferences", () => {
  it.each(configs)(
    "hide every change the orchestrator makes, for every placement shape (%s)",
    async (_name, config) => {
      const expressions = readmeIgnoreDifferences();
      const cases = manifests().flatMap(([shape, git]) =>
        lifecycle(config, git).map(([state, live]) => ({ shape, git, state, live })),
      );
      // The placement really changed in these states, so the check below has something to hide.
      expect(cases.some((c) => JSON.stringify(c.live.spec) !== JSON.stringify(c.git.spec))).toBe(true);

      const normalized = await argoNormalize(
        cases.flatMap((c) => [c.git, c.live]),
        expressions,
      );
      const differences = cases.flatMap((c, i) =>
        compare(normalized[2 * i]!, normalized[2 * i + 1]!)
          // An empty map left in the live object (labels: {}) is no difference to a diff of git against it.
          .filter((op) => !(op.op === "add" && isEmptyObject(op.value)))
          // the surge is a difference while a move rolls, on purpose: ignoring spec.strategy would keep a
          // strategy change in git from ever syncing (the chart README says so)
          .filter((op) => !op.path.startsWith("/spec/strategy"))
          .map((op) => `${c.shape}, ${c.state}: ${op.op} ${op.path}`),
      );
      expect(differences).toEqual([]);
    },
  );
});

function isEmptyObject(value: unknown): boolean {
  return (
    value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0
  );
}

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { V1Deployment, V1PodSpec, V1Toleration } from "@kubernetes/client-node";
import { compare } from "fast-json-patch";
import { Annotation } from "./contract.ts";
import { fargateIncompatibilities, isPlaced, parseStash, place, type PlacementConfig } from "./placement.ts";
import { podRequests } from "./podRequests.ts";

const config: PlacementConfig = {
  computeLabelKey: "compute-type",
  spotLabel: "spot",
  fargateLabel: "fargate",
  spotNodeSelector: { "eks.amazonaws.com/capacityType": "SPOT" },
  spotTolerations: [{ key: "spot", operator: "Exists", effect: "NoSchedule" }],
  fargateNodeSelector: {},
  onDemandLabel: "on-demand",
  onDemandNodeSelector: { "eks.amazonaws.com/capacityType": "ON_DEMAND" },
  onDemandTolerations: [],
};

function deployment(
  spec: Partial<V1PodSpec> = {},
  labels: Record<string, string> = { app: "web" },
): V1Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop", annotations: { [Annotation.enabled]: "true" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "web", image: "nginx:1.27" }], ...spec },
      },
    },
  };
}

const spotPlacement: Partial<V1PodSpec> = {
  nodeSelector: { "karpenter.sh/capacity-type": "spot" },
  tolerations: [{ key: "spot", operator: "Equal", value: "true", effect: "NoSchedule" }],
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          {
            matchExpressions: [
              { key: "topology.kubernetes.io/zone", operator: "In", values: ["us-east-1a"] },
            ],
          },
        ],
      },
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: "kubernetes.io/hostname",
            labelSelector: { matchLabels: { app: "web" } },
          },
        },
      ],
    },
  },
  topologySpreadConstraints: [
    { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
  ],
};

const templateSpec = (d: V1Deployment) => d.spec!.template.spec!;
const templateLabels = (d: V1Deployment) => d.spec!.template.metadata!.labels!;

describe("place to fargate", () => {
  it("stashes the spot placement, sets the compute label and strips node placement", () => {
    const original = deployment(spotPlacement);
    const placed = place(original, "fargate", config);
    const spec = templateSpec(placed);
    expect(spec.nodeSelector).toBeUndefined();
    expect(spec.tolerations).toBeUndefined();
    expect(spec.topologySpreadConstraints).toBeUndefined();
    expect(spec.affinity).toEqual({ podAntiAffinity: spotPlacement.affinity!.podAntiAffinity });
    expect(templateLabels(placed)).toEqual({ app: "web", "compute-type": "fargate" });
    expect(parseStash(placed.metadata!.annotations![Annotation.spotPlacement]!)).toEqual({
      nodeSelector: spotPlacement.nodeSelector,
      tolerations: spotPlacement.tolerations,
      nodeAffinity: spotPlacement.affinity!.nodeAffinity,
      topologySpreadConstraints: spotPlacement.topologySpreadConstraints,
      computeLabel: null,
    });
    expect(original).toEqual(deployment(spotPlacement)); // input untouched
  });

  it("sets the configured Fargate node selector", () => {
    const placed = place(deployment(spotPlacement), "fargate", {
      ...config,
      fargateNodeSelector: { pool: "fargate" },
    });
    expect(templateSpec(placed).nodeSelector).toEqual({ pool: "fargate" });
  });

  it("does not overwrite an existing stash", () => {
    const once = place(deployment(spotPlacement), "fargate", config);
    templateSpec(once).tolerations = [{ key: "added-later", operator: "Exists" }];
    const twice = place(once, "fargate", config);
    expect(twice.metadata!.annotations![Annotation.spotPlacement]).toBe(
      once.metadata!.annotations![Annotation.spotPlacement],
    );
    expect(templateSpec(twice).tolerations).toBeUndefined();
  });
});

describe("place to spot", () => {
  it("restores the stash exactly and removes it", () => {
    const original = deployment(spotPlacement, { app: "web", "compute-type": "spot" });
    const back = place(place(original, "fargate", config), "spot", config);
    expect(back).toEqual(original);
  });

  it.each([
    ["no compute label", { app: "web" }],
    ["a spot compute label", { app: "web", "compute-type": "spot" }],
    ["an unrelated compute label", { app: "web", "compute-type": "general" }],
  ])("changes nothing on a template with %s and no stash", (_name, labels) => {
    const d = deployment(spotPlacement, labels);
    expect(place(d, "spot", config)).toEqual(d);
  });

  it("applies the spot profile to a Fargate template with nothing stashed", () => {
    const d = deployment({ nodeSelector: { x: "y" } }, { app: "web", "compute-type": "fargate" });
    const placed = place(d, "spot", config);
    expect(templateSpec(placed).nodeSelector).toEqual(config.spotNodeSelector);
    expect(templateSpec(placed).tolerations).toEqual(config.spotTolerations);
    expect(templateLabels(placed)["compute-type"]).toBe("spot");
  });

  it("treats a corrupt stash as empty instead of failing", () => {
    const d = deployment({ nodeSelector: { a: "b" } }, { app: "web", "compute-type": "fargate" });
    d.metadata!.annotations![Annotation.spotPlacement] = "not json";
    const placed = place(d, "spot", config);
    expect(templateSpec(placed).nodeSelector).toBeUndefined();
    expect(templateLabels(placed)["compute-type"]).toBeUndefined();
    expect(placed.metadata!.annotations![Annotation.spotPlacement]).toBeUndefined();
  });
});

describe("place to on-demand", () => {
  it("stashes the spot placement, selects on-demand nodes, drops node affinity, keeps tolerations and spread", () => {
    const original = deployment(
      { ...spotPlacement, nodeSelector: { ...spotPlacement.nodeSelector, "kubernetes.io/arch": "arm64" } },
      { app: "web", "compute-type": "spot" },
    );
    const placed = place(original, "on-demand", {
      ...config,
      onDemandTolerations: [{ key: "on-demand", operator: "Exists", effect: "NoSchedule" }],
    });
    const spec = templateSpec(placed);
    expect(spec.nodeSelector).toEqual({
      "kubernetes.io/arch": "arm64",
      "eks.amazonaws.com/capacityType": "ON_DEMAND",
    });
    expect(spec.tolerations).toEqual([
      ...spotPlacement.tolerations!,
      { key: "on-demand", operator: "Exists", effect: "NoSchedule" },
    ]);
    expect(spec.topologySpreadConstraints).toEqual(spotPlacement.topologySpreadConstraints);
    expect(spec.affinity).toEqual({ podAntiAffinity: spotPlacement.affinity!.podAntiAffinity });
    expect(templateLabels(placed)).toEqual({ app: "web", "compute-type": "on-demand" });
    expect(parseStash(placed.metadata!.annotations![Annotation.spotPlacement]!)).toMatchObject({
      nodeSelector: templateSpec(original).nodeSelector,
      nodeAffinity: spotPlacement.affinity!.nodeAffinity,
      computeLabel: "spot",
    });
  });

  it("places from the stash when coming from Fargate, and Fargate from on-demand keeps the stash", () => {
    const original = deployment(spotPlacement);
    const viaFargate = place(place(original, "fargate", config), "on-demand", config);
    expect(viaFargate).toEqual(place(original, "on-demand", config));
    const backToFargate = place(viaFargate, "fargate", config);
    expect(backToFargate).toEqual(place(original, "fargate", config));
    expect(place(backToFargate, "spot", config)).toEqual(original);
  });

  it("applies the spot profile to an on-demand template with nothing stashed", () => {
    const d = deployment({ nodeSelector: { x: "y" } }, { app: "web", "compute-type": "on-demand" });
    const placed = place(d, "spot", config);
    expect(templateSpec(placed).nodeSelector).toEqual(config.spotNodeSelector);
    expect(templateLabels(placed)["compute-type"]).toBe("spot");
  });
});

// ---- properties over generated templates ----

const labelValue = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,10}[a-z0-9])?$/);
const labelMap = fc.dictionary(fc.stringMatching(/^[a-z]([a-z0-9./-]{0,14}[a-z0-9])?$/), labelValue, {
  maxKeys: 3,
});
const toleration: fc.Arbitrary<V1Toleration> = fc.record(
  {
    key: fc.constantFrom("spot", "dedicated", "eks.amazonaws.com/capacityType"),
    operator: fc.constantFrom("Equal", "Exists"),
    value: labelValue,
    effect: fc.constantFrom("NoSchedule", "NoExecute", "PreferNoSchedule"),
  },
  { requiredKeys: ["key"] },
);
const nodeAffinity = fc.record({
  requiredDuringSchedulingIgnoredDuringExecution: fc.record({
    nodeSelectorTerms: fc.array(
      fc.record({
        matchExpressions: fc.array(
          fc.record({
            key: labelValue,
            operator: fc.constantFrom("In", "NotIn"),
            values: fc.array(labelValue, { maxLength: 2 }),
          }),
          { maxLength: 2 },
        ),
      }),
      { minLength: 1, maxLength: 2 },
    ),
  }),
});
const podSpec: fc.Arbitrary<Partial<V1PodSpec>> = fc.record(
  {
    nodeSelector: labelMap,
    tolerations: fc.array(toleration, { maxLength: 3 }),
    affinity: fc.record(
      { nodeAffinity, podAffinity: fc.constant({ preferredDuringSchedulingIgnoredDuringExecution: [] }) },
      { requiredKeys: [] },
    ),
    topologySpreadConstraints: fc.array(
      fc.record({
        maxSkew: fc.integer({ min: 1, max: 3 }),
        topologyKey: labelValue,
        whenUnsatisfiable: fc.constantFrom("DoNotSchedule", "ScheduleAnyway"),
      }),
      { maxLength: 2 },
    ),
    serviceAccountName: labelValue,
    priorityClassName: labelValue,
  },
  { requiredKeys: [] },
);
const templateLabelsArb = fc
  .tuple(labelMap, fc.option(fc.constantFrom("spot", "general", "fargate", "on-demand"), { nil: undefined }))
  .map(([labels, compute]) => ({
    app: "web",
    ...labels,
    ...(compute === undefined ? {} : { "compute-type": compute }),
  }));
const deployments = fc.tuple(podSpec, templateLabelsArb).map(([spec, labels]) => deployment(spec, labels));
const configs = fc.record({
  ...Object.fromEntries(Object.entries(config).map(([k, v]) => [k, fc.constant(v)])),
  fargateNodeSelector: fc.constantFrom({}, { "eks.amazonaws.com/compute-type": "fargate" }),
  onDemandNodeSelector: fc.constantFrom(
    {},
    { "eks.amazonaws.com/capacityType": "ON_DEMAND" },
    { "karpenter.sh/capacity-type": "on-demand", "kubernetes.io/arch": "amd64" },
  ),
  onDemandTolerations: fc.array(toleration, { maxLength: 2 }),
}) as fc.Arbitrary<PlacementConfig>;
const targets = fc.constantFrom("spot", "fargate", "on-demand" as const);
const offSpot = fc.constantFrom("fargate", "on-demand" as const);
/** Templates not already labelled for a compute off spot (those have nothing to go back to). */
const onSpot = deployments.filter(
  (d) => !["fargate", "on-demand"].includes(templateLabels(d)["compute-type"] ?? ""),
);

/** Everything except what placement owns: the placement fields, the compute label and the stash. */
function unowned(d: V1Deployment): unknown {
  const copy = structuredClone(d);
  const spec = templateSpec(copy);
  delete spec.nodeSelector;
  delete spec.tolerations;
  delete spec.topologySpreadConstraints;
  if (spec.affinity) delete spec.affinity.nodeAffinity;
  if (spec.affinity && Object.keys(spec.affinity).length === 0) delete spec.affinity;
  delete templateLabels(copy)["compute-type"];
  delete copy.metadata!.annotations![Annotation.spotPlacement];
  return copy;
}

describe("placement properties", () => {
  it("never modifies its input", () => {
    fc.assert(
      fc.property(deployments, targets, targets, configs, (d, target, next, cfg) => {
        const before = JSON.stringify(d);
        const placed = place(d, target, cfg);
        const placedBefore = JSON.stringify(placed);
        place(placed, next, cfg);
        expect(JSON.stringify(d)).toBe(before);
        expect(JSON.stringify(placed)).toBe(placedBefore);
      }),
      { numRuns: 300 },
    );
  });

  it("is idempotent: a second pass yields no patch", () => {
    fc.assert(
      fc.property(deployments, targets, configs, (d, target, cfg) => {
        const once = place(d, target, cfg);
        expect(compare(once, place(once, target, cfg))).toEqual([]);
        expect(isPlaced(once, target, cfg)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("round-trips spot → fargate or on-demand (any number of moves between them) → spot byte for byte", () => {
    fc.assert(
      fc.property(onSpot, fc.array(offSpot, { minLength: 1, maxLength: 3 }), configs, (d, moves, cfg) => {
        const away = moves.reduce((placed, target) => place(placed, target, cfg), d);
        const back = place(away, "spot", cfg);
        expect(JSON.stringify(canonical(back))).toBe(JSON.stringify(canonical(d)));
      }),
      { numRuns: 300 },
    );
  });

  it("places off spot from the stash alone: the same result whichever compute it comes from", () => {
    fc.assert(
      fc.property(onSpot, offSpot, offSpot, configs, (d, first, target, cfg) => {
        expect(place(place(d, first, cfg), target, cfg)).toEqual(place(d, target, cfg));
      }),
      { numRuns: 300 },
    );
  });

  it("touches nothing outside the placement fields", () => {
    fc.assert(
      fc.property(deployments, targets, configs, (d, target, cfg) => {
        expect(unowned(place(d, target, cfg))).toEqual(unowned(d));
      }),
      { numRuns: 300 },
    );
  });

  it("changes nothing when a Deployment opts in with compute absent", () => {
    fc.assert(
      fc.property(onSpot, configs, (d, cfg) => {
        expect(compare(d, place(d, "spot", cfg))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

describe("fargateIncompatibilities", () => {
  const base: V1PodSpec = { containers: [{ name: "app", image: "app" }] };
  it.each<[string, V1PodSpec, string[]]>([
    ["a plain pod", base, []],
    ["hostNetwork", { ...base, hostNetwork: true }, ["hostNetwork is not supported on Fargate"]],
    [
      "a privileged container",
      { containers: [{ name: "app", securityContext: { privileged: true } }] },
      ['container "app" is privileged'],
    ],
    [
      "a hostPort",
      { containers: [{ name: "app", ports: [{ containerPort: 80, hostPort: 8080 }] }] },
      ['container "app" uses hostPort 8080'],
    ],
    ["a containerPort only", { containers: [{ name: "app", ports: [{ containerPort: 80 }] }] }, []],
    [
      "a hostPath volume",
      { ...base, volumes: [{ name: "logs", hostPath: { path: "/var/log" } }] },
      ['volume "logs" is a hostPath'],
    ],
    [
      "a GPU request",
      { containers: [{ name: "train", resources: { limits: { "nvidia.com/gpu": "1" } } }] },
      ['container "train" requests nvidia.com/gpu'],
    ],
    [
      "more than 16 vCPU",
      {
        containers: [
          { name: "a", resources: { requests: { cpu: "12" } } },
          { name: "b", resources: { requests: { cpu: "4500m" } } },
        ],
      },
      ["requests 16.5 vCPU, more than Fargate's 16"],
    ],
    ["exactly 16 vCPU", { containers: [{ name: "a", resources: { requests: { cpu: "16" } } }] }, []],
    [
      "more than 120 GiB",
      { containers: [{ name: "a", resources: { requests: { memory: "121Gi" } } }] },
      [
        "requests 121 GiB of memory, more than Fargate's 120 GiB less the 256 MiB it keeps for Kubernetes components",
      ],
    ],
    [
      "120 GiB, with no room for Fargate's Kubernetes components",
      { containers: [{ name: "a", resources: { requests: { memory: "120Gi" } } }] },
      [
        "requests 120 GiB of memory, more than Fargate's 120 GiB less the 256 MiB it keeps for Kubernetes components",
      ],
    ],
    [
      "limits without requests, which the pods request",
      { containers: [{ name: "a", resources: { limits: { cpu: "17" } } }] },
      ["requests 17 vCPU, more than Fargate's 16"],
    ],
  ])("%s", (_name, spec, reasons) => {
    expect(fargateIncompatibilities(spec)).toEqual(reasons);
  });

  it("counts the largest init container when it exceeds the app containers", () => {
    const spec: V1PodSpec = {
      initContainers: [{ name: "migrate", resources: { requests: { cpu: "2", memory: "1Gi" } } }],
      containers: [{ name: "app", resources: { requests: { cpu: "500m", memory: "2Gi" } } }],
    };
    expect(podRequests(spec)).toEqual({ cpu: 2, memory: 2 * 2 ** 30 });
  });
});

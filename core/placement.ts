// The one placement function, shared by the webhook (at admission) and the watcher (drift repair).
// It rewrites only the pod template's placement fields and the spot-placement stash; nothing else.
import type {
  V1Affinity,
  V1Deployment,
  V1PodSpec,
  V1Toleration,
  V1TopologySpreadConstraint,
  V1NodeAffinity,
  V1PodTemplateSpec,
} from "@kubernetes/client-node";
import { Annotation, type Compute } from "./contract.ts";
import {
  fargateNeeds,
  fargateSize,
  KUBERNETES_COMPONENTS_MEMORY,
  LARGEST_FARGATE_SIZE,
} from "./fargateSize.ts";
import { GiB, MiB } from "./quantity.ts";

export interface PlacementConfig {
  /** Pod-template label a Fargate profile selects on (default `compute-type`). */
  computeLabelKey: string;
  spotLabel: string;
  fargateLabel: string;
  /** Spot profile applied when moving to spot with nothing stashed. */
  spotNodeSelector: Record<string, string>;
  spotTolerations: V1Toleration[];
  fargateNodeSelector: Record<string, string>;
  /** Value of the compute label on on-demand nodes (must not be what a Fargate profile selects). */
  onDemandLabel: string;
  /** Where on-demand capacity is: set as the node selector, on top of the template's OS and architecture. */
  onDemandNodeSelector: Record<string, string>;
  /** Added to the template's own tolerations on on-demand (e.g. the taint of an on-demand node pool). */
  onDemandTolerations: V1Toleration[];
}

/** What moving off spot (to Fargate or on-demand) takes away, kept verbatim so moving back restores it. */
export interface SpotPlacement {
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  nodeAffinity?: V1NodeAffinity;
  topologySpreadConstraints?: V1TopologySpreadConstraint[];
  /** The compute label's value before the move; null when the label was absent. */
  computeLabel: string | null;
}

/**
 * Returns a copy of the Deployment placed on `target`; the input is never modified. Only the path down to
 * the fields placement writes is copied (metadata, the pod template's labels and spec, its affinity): the
 * rest is shared with the input, which keeps admission fast on large objects.
 */
export function place(deployment: V1Deployment, target: Compute, config: PlacementConfig): V1Deployment {
  const result = copyPlacementPath(deployment);
  if (target === "fargate") toFargate(result, config);
  else if (target === "on-demand") toOnDemand(result, config);
  else toSpot(result, config);
  return result;
}

/** True when the template already matches `target` (a second pass would change nothing). */
export function isPlaced(deployment: V1Deployment, target: Compute, config: PlacementConfig): boolean {
  return JSON.stringify(place(deployment, target, config)) === JSON.stringify(deployment);
}

function toFargate(deployment: V1Deployment, config: PlacementConfig): void {
  const template = podTemplate(deployment);
  const spec = template.spec;
  stashOnce(deployment, template, config);
  const labels = ((template.metadata ??= {}).labels ??= {});
  labels[config.computeLabelKey] = config.fargateLabel;

  if (Object.keys(config.fargateNodeSelector).length > 0)
    spec.nodeSelector = { ...config.fargateNodeSelector };
  else delete spec.nodeSelector;
  delete spec.tolerations;
  delete spec.topologySpreadConstraints;
  dropNodeAffinity(spec);
}

/**
 * On-demand EC2 nodes: the node selector becomes the configured on-demand one, keeping only the template's
 * OS and architecture (what its images can run on); node affinity goes (it is what pins spot); tolerations
 * and topology spread stay as they were on spot, with the configured on-demand tolerations added. Derived
 * from the stash, so the result is the same whichever compute the Deployment comes from.
 */
function toOnDemand(deployment: V1Deployment, config: PlacementConfig): void {
  const template = podTemplate(deployment);
  const spec = template.spec;
  const stash = parseStash(stashOnce(deployment, template, config));
  ((template.metadata ??= {}).labels ??= {})[config.computeLabelKey] = config.onDemandLabel;

  const kept = Object.entries(stash.nodeSelector ?? {}).filter(([key]) => KEPT_ON_DEMAND.includes(key));
  const nodeSelector = { ...Object.fromEntries(kept), ...config.onDemandNodeSelector };
  setOrDelete(spec, "nodeSelector", Object.keys(nodeSelector).length > 0 ? nodeSelector : undefined);
  const tolerations = [...(stash.tolerations ?? [])];
  for (const t of config.onDemandTolerations) {
    if (!tolerations.some((own) => JSON.stringify(own) === JSON.stringify(t))) tolerations.push(t);
  }
  setOrDelete(spec, "tolerations", tolerations.length > 0 ? structuredClone(tolerations) : undefined);
  setOrDelete(spec, "topologySpreadConstraints", stash.topologySpreadConstraints);
  dropNodeAffinity(spec);
}

/** Node selector keys that say what a pod can run on rather than where capacity is. */
const KEPT_ON_DEMAND = ["kubernetes.io/os", "kubernetes.io/arch"];

/** Stashes the spot placement unless a stash exists; returns the stash. */
function stashOnce(deployment: V1Deployment, template: PodTemplate, config: PlacementConfig): string {
  const annotations = ((deployment.metadata ??= {}).annotations ??= {});
  const stash =
    annotations[Annotation.spotPlacement] ??
    JSON.stringify(stashOf(template.spec, template.metadata?.labels, config));
  annotations[Annotation.spotPlacement] = stash;
  return stash;
}

function toSpot(deployment: V1Deployment, config: PlacementConfig): void {
  const template = podTemplate(deployment);
  const annotations = deployment.metadata?.annotations;
  const raw = annotations?.[Annotation.spotPlacement];
  if (raw !== undefined) {
    restore(template, parseStash(raw), config.computeLabelKey);
    delete annotations![Annotation.spotPlacement];
    return;
  }
  // Nothing stashed: only a template placed off spot needs the spot profile; anything else is left alone
  // so that opting in never causes a rollout.
  const label = template.metadata?.labels?.[config.computeLabelKey];
  if (label !== config.fargateLabel && label !== config.onDemandLabel) return;
  const spec = template.spec;
  if (Object.keys(config.spotNodeSelector).length > 0) spec.nodeSelector = { ...config.spotNodeSelector };
  else delete spec.nodeSelector;
  if (config.spotTolerations.length > 0) spec.tolerations = structuredClone(config.spotTolerations);
  else delete spec.tolerations;
  template.metadata!.labels![config.computeLabelKey] = config.spotLabel;
}

function stashOf(
  spec: V1PodSpec,
  labels: Record<string, string> | undefined,
  config: PlacementConfig,
): SpotPlacement {
  const stash: SpotPlacement = { computeLabel: labels?.[config.computeLabelKey] ?? null };
  if (spec.nodeSelector !== undefined) stash.nodeSelector = spec.nodeSelector;
  if (spec.tolerations !== undefined) stash.tolerations = spec.tolerations;
  if (spec.affinity?.nodeAffinity !== undefined) stash.nodeAffinity = spec.affinity.nodeAffinity;
  if (spec.topologySpreadConstraints !== undefined)
    stash.topologySpreadConstraints = spec.topologySpreadConstraints;
  return stash;
}

function restore(template: PodTemplate, stash: SpotPlacement, computeLabelKey: string): void {
  const spec = template.spec;
  setOrDelete(spec, "nodeSelector", stash.nodeSelector);
  setOrDelete(spec, "tolerations", stash.tolerations);
  setOrDelete(spec, "topologySpreadConstraints", stash.topologySpreadConstraints);
  if (stash.nodeAffinity !== undefined) {
    spec.affinity = { ...(spec.affinity ?? {}), nodeAffinity: stash.nodeAffinity } satisfies V1Affinity;
  } else {
    dropNodeAffinity(spec);
  }
  const labels = ((template.metadata ??= {}).labels ??= {});
  if (stash.computeLabel === null) delete labels[computeLabelKey];
  else labels[computeLabelKey] = stash.computeLabel;
}

/** Removes node affinity, and the affinity object when nothing else is left in it. */
function dropNodeAffinity(spec: V1PodSpec): void {
  if (spec.affinity?.nodeAffinity === undefined) return;
  delete spec.affinity.nodeAffinity;
  if (Object.keys(spec.affinity).length === 0) delete spec.affinity;
}

function setOrDelete<K extends keyof V1PodSpec>(
  spec: V1PodSpec,
  key: K,
  value: V1PodSpec[K] | undefined,
): void {
  if (value === undefined) delete spec[key];
  else spec[key] = value;
}

/** Reads the stash; undefined when it is not a JSON object. */
export function readStash(raw: string): SpotPlacement | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const stash = value as Partial<SpotPlacement>;
      return { ...stash, computeLabel: typeof stash.computeLabel === "string" ? stash.computeLabel : null };
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/** The stash, with an unreadable one treated as empty rather than failing admission. */
export function parseStash(raw: string): SpotPlacement {
  return readStash(raw) ?? { computeLabel: null };
}

type PodTemplate = V1PodTemplateSpec & { spec: V1PodSpec };

function copyPlacementPath(deployment: V1Deployment): V1Deployment {
  const copy = <T extends object>(value: T | undefined): T | undefined =>
    value === undefined ? undefined : { ...value };
  const result = { ...deployment };
  if (result.metadata) {
    result.metadata = { ...result.metadata };
    if (result.metadata.annotations) result.metadata.annotations = { ...result.metadata.annotations };
    if (result.metadata.labels) result.metadata.labels = { ...result.metadata.labels };
  }
  if (result.spec) {
    const template = copy(result.spec.template) ?? {};
    if (template.metadata)
      template.metadata = { ...template.metadata, labels: copy(template.metadata.labels) };
    if (template.metadata?.labels === undefined) delete template.metadata?.labels;
    if (template.spec) template.spec = { ...template.spec, affinity: copy(template.spec.affinity) };
    if (template.spec?.affinity === undefined) delete template.spec?.affinity;
    result.spec = { ...result.spec, template };
  }
  return result;
}

function podTemplate(deployment: V1Deployment): PodTemplate {
  const spec = (deployment.spec ??= { selector: {}, template: {} });
  const template = (spec.template ??= {});
  template.spec ??= { containers: [] };
  return template as PodTemplate;
}

// ---- Fargate compatibility ----

const GPU_RESOURCES = ["nvidia.com/gpu", "amd.com/gpu", "aws.amazon.com/neuron", "aws.amazon.com/neuroncore"];

/** Reasons a pod spec cannot run on Fargate; empty when it can. */
export function fargateIncompatibilities(spec: V1PodSpec | undefined): string[] {
  if (spec === undefined) return [];
  const reasons: string[] = [];
  if (spec.hostNetwork === true) reasons.push("hostNetwork is not supported on Fargate");
  if (spec.hostPID === true) reasons.push("hostPID is not supported on Fargate");
  if (spec.hostIPC === true) reasons.push("hostIPC is not supported on Fargate");
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const c of containers) {
    if (c.securityContext?.privileged === true) reasons.push(`container "${c.name}" is privileged`);
    for (const port of c.ports ?? []) {
      if (port.hostPort !== undefined && port.hostPort !== 0) {
        reasons.push(`container "${c.name}" uses hostPort ${port.hostPort}`);
      }
    }
    for (const resource of GPU_RESOURCES) {
      if (c.resources?.requests?.[resource] !== undefined || c.resources?.limits?.[resource] !== undefined) {
        reasons.push(`container "${c.name}" requests ${resource}`);
      }
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.hostPath !== undefined) reasons.push(`volume "${v.name}" is a hostPath`);
  }
  if (fargateSize({ ...spec, containers: spec.containers ?? [] }) === undefined) reasons.push(tooLarge(spec));
  return reasons;
}

function tooLarge(spec: V1PodSpec): string {
  const { cpu, memory } = fargateNeeds({ ...spec, containers: spec.containers ?? [] });
  const largest = LARGEST_FARGATE_SIZE;
  if (cpu > largest.vcpu) return `requests ${round(cpu)} vCPU, more than Fargate's ${largest.vcpu}`;
  const requested = (memory - KUBERNETES_COMPONENTS_MEMORY) / GiB;
  return (
    `requests ${round(requested)} GiB of memory, more than Fargate's ${largest.memoryGiB} GiB ` +
    `less the ${KUBERNETES_COMPONENTS_MEMORY / MiB} MiB it keeps for Kubernetes components`
  );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

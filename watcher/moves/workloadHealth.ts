// Is a rolled-out Deployment healthy where its move sent it? Every pod of the new ReplicaSet is Ready, runs
// where the move sends it (`arrivedOn`), is a ready endpoint of each Service selecting it, and (optionally)
// answers HTTP.
import type { V1Deployment, V1EndpointSlice, V1Node, V1Pod, V1Service } from "@kubernetes/client-node";
import { Annotation, type Compute } from "../../core/contract.ts";
import type { Kube } from "../../core/kube.ts";
import { arrivedOn } from "../cluster/nodeKinds.ts";
import { newPods } from "../cluster/newPods.ts";
import { isPodReady } from "../cluster/pods.ts";

export type HealthResult = { ok: true } | { ok: false; why: string };

export interface HealthOptions {
  /** Check only this Service (when set for the Deployment); otherwise every Service selecting its pods. */
  serviceName?: string;
  /** HTTP GET of the Deployment's health-path annotation on each pod. */
  httpCheck?: { retries: number; intervalMs: number; timeoutMs?: number };
}

/** True when a Service's (equality) selector selects pods with `labels`; a selector-less Service selects none. */
export function serviceSelects(service: V1Service, labels: Record<string, string>): boolean {
  const selector = service.spec?.selector;
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Pods missing as ready endpoints of the Service's EndpointSlices (by pod uid, else by address). */
export function missingEndpoints(pods: V1Pod[], slices: V1EndpointSlice[]): V1Pod[] {
  const readyUids = new Set<string>();
  const readyAddresses = new Set<string>();
  for (const slice of slices) {
    for (const endpoint of slice.endpoints ?? []) {
      // a nil ready condition means ready (EndpointSlice API)
      if (endpoint.conditions?.ready === false) continue;
      if (endpoint.targetRef?.uid) readyUids.add(endpoint.targetRef.uid);
      for (const address of endpoint.addresses) readyAddresses.add(address);
    }
  }
  return pods.filter(
    (pod) => !readyUids.has(pod.metadata?.uid ?? "") && !readyAddresses.has(pod.status?.podIP ?? "-"),
  );
}

export async function checkHealth(
  kube: Kube,
  deployment: V1Deployment,
  target: Compute,
  /** Where a pod's node is read (the node index, else the apiserver: see rollout.ts). */
  readNode: (name: string) => Promise<V1Node>,
  options: HealthOptions = {},
): Promise<HealthResult> {
  const pods = await newPods(kube, deployment);
  if (pods === undefined) return { ok: false, why: "the new ReplicaSet is not there yet" };
  const desired = deployment.spec?.replicas ?? 1;
  if (pods.length < desired) return { ok: false, why: `${pods.length} of ${desired} new pods exist` };

  const notReady = pods.filter((pod) => !isPodReady(pod));
  if (notReady.length > 0) return { ok: false, why: `pod ${nameOf(notReady[0]!)} is not Ready` };

  const nodes = new Map<string, V1Node>();
  for (const pod of pods) {
    const nodeName = pod.spec?.nodeName ?? "";
    let node = nodes.get(nodeName);
    if (node === undefined) {
      node = await readNode(nodeName);
      nodes.set(nodeName, node);
    }
    if (!arrivedOn(node, target)) {
      const where = {
        fargate: "not a Fargate node",
        "on-demand": "not an on-demand node",
        spot: "still a Fargate node",
      }[target];
      return { ok: false, why: `pod ${nameOf(pod)} runs on ${nodeName}, ${where}` };
    }
  }

  const endpoints = await checkEndpoints(kube, deployment, pods, options.serviceName);
  if (!endpoints.ok) return endpoints;

  const path = deployment.metadata?.annotations?.[Annotation.healthPath];
  if (path !== undefined && path !== "" && options.httpCheck !== undefined) {
    for (const pod of pods) {
      const url = podUrl(pod, path);
      if (url === undefined)
        return { ok: false, why: `pod ${nameOf(pod)} has no IP or containerPort to check` };
      const answer = await httpHealthy(url, options.httpCheck);
      if (!answer.ok) return { ok: false, why: `pod ${nameOf(pod)}: ${answer.why}` };
    }
  }
  return { ok: true };
}

async function checkEndpoints(
  kube: Kube,
  deployment: V1Deployment,
  pods: V1Pod[],
  serviceName: string | undefined,
): Promise<HealthResult> {
  const namespace = deployment.metadata?.namespace ?? "";
  const templateLabels = deployment.spec?.template?.metadata?.labels ?? {};
  let services: V1Service[];
  if (serviceName !== undefined) {
    try {
      services = [await kube.core.readNamespacedService({ namespace, name: serviceName })];
    } catch {
      return { ok: false, why: `service ${serviceName} cannot be read` };
    }
  } else {
    services = (await kube.core.listNamespacedService({ namespace })).items.filter((s) =>
      serviceSelects(s, templateLabels),
    );
  }
  for (const service of services) {
    const name = service.metadata?.name ?? "";
    const slices = (
      await kube.discovery.listNamespacedEndpointSlice({
        namespace,
        labelSelector: `kubernetes.io/service-name=${name}`,
      })
    ).items;
    const missing = missingEndpoints(pods, slices);
    if (missing.length > 0) {
      return { ok: false, why: `pod ${nameOf(missing[0]!)} is not a ready endpoint of service ${name}` };
    }
  }
  return { ok: true };
}

/** http://<pod IP>:<first containerPort><path>. */
export function podUrl(pod: V1Pod, path: string): string | undefined {
  const ip = pod.status?.podIP;
  const port = pod.spec?.containers.flatMap((c) => c.ports ?? [])[0]?.containerPort;
  if (!ip || port === undefined) return undefined;
  const host = ip.includes(":") ? `[${ip}]` : ip;
  return `http://${host}:${port}${path.startsWith("/") ? path : `/${path}`}`;
}

/** GETs `url` up to `retries` times; healthy on any 2xx or 3xx answer. */
export async function httpHealthy(
  url: string,
  { retries, intervalMs, timeoutMs = 5_000 }: { retries: number; intervalMs: number; timeoutMs?: number },
): Promise<HealthResult> {
  let why = "not checked";
  for (let attempt = 1; attempt <= Math.max(1, retries); attempt++) {
    try {
      const response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 400) return { ok: true };
      why = `GET ${url} answered ${response.status}`;
    } catch (err) {
      why = `GET ${url} failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (attempt < retries) await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return { ok: false, why };
}

function nameOf(pod: V1Pod): string {
  return pod.metadata?.name ?? "?";
}

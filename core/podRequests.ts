// A pod's effective CPU and memory requests, as the scheduler (and Fargate) count them.
import type { V1Container, V1PodSpec } from "@kubernetes/client-node";
import { parseQuantity } from "./quantity.ts";

/**
 * The larger of the long-running containers (app containers plus restartable init "sidecar" containers)
 * and the largest one-shot init container, per resource. A container with a limit and no request for a
 * resource requests its limit, as the apiserver defaults it on the pods a template makes.
 */
export function podRequests(spec: V1PodSpec): { cpu: number; memory: number } {
  const sidecars = (spec.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  const oneShot = (spec.initContainers ?? []).filter((c) => c.restartPolicy !== "Always");
  const running = [...spec.containers, ...sidecars];
  const total = (name: string) => running.reduce((sum, c) => sum + request(c, name), 0);
  const maxInit = (name: string) => Math.max(0, ...oneShot.map((c) => request(c, name)));
  return {
    cpu: Math.max(total("cpu"), maxInit("cpu")),
    memory: Math.max(total("memory"), maxInit("memory")),
  };
}

function request(container: V1Container, name: string): number {
  const value = container.resources?.requests?.[name] ?? container.resources?.limits?.[name];
  if (value === undefined) return 0;
  try {
    return parseQuantity(value);
  } catch {
    return 0;
  }
}

// In-memory stand-ins for the watcher's narrow interfaces, for fast table tests of its write paths:
// Deployments with resourceVersions (so conflicts are real) and failures to order, and recorders that keep
// what they were told.
import type { V1Deployment, V1ObjectReference } from "@kubernetes/client-node";
import { PermanentError, RetryableError } from "../../core/errors.ts";
import type { Alerter } from "../../watcher/alerts/alerter.ts";
import type { DeploymentEvent } from "../../watcher/alerts/kubeEvents.ts";
import type { LifecycleActions } from "../../watcher/migration/lifecycleActions.ts";
import type { AsgTermination } from "../../watcher/sqs/interruptionEvent.ts";
import {
  keyOf,
  refOf,
  type DeploymentRef,
  type Deployments,
  type KeyPatch,
  type DeploymentPatch,
} from "../../watcher/moves/deployments.ts";

type Operation = "read" | "list" | "patch" | "replace";

export class FakeDeployments implements Deployments {
  private readonly stored = new Map<string, V1Deployment>();
  private version = 100;
  /** Every write stored, in order. */
  readonly writes: { key: string; patch: DeploymentPatch }[] = [];
  private readonly failures: { operation: Operation; key?: string; error: Error }[] = [];
  private readonly interference = new Map<string, (d: V1Deployment) => void>();

  /** Stores a Deployment (a new resourceVersion) and returns the stored copy. */
  put(deployment: V1Deployment): V1Deployment {
    const copy = structuredClone(deployment);
    copy.metadata = { namespace: "shop", ...copy.metadata, resourceVersion: String(++this.version) };
    this.stored.set(keyOf(refOf(copy)), copy);
    return structuredClone(copy);
  }

  get(name: string, namespace = "shop"): V1Deployment {
    const found = this.stored.get(`${namespace}/${name}`);
    if (!found) throw new Error(`no Deployment ${namespace}/${name}`);
    return structuredClone(found);
  }

  annotations(name: string): Record<string, string> {
    return this.get(name).metadata?.annotations ?? {};
  }

  /** The next `operation` (of `key`, if given) fails with `error`; queue several for several failures. */
  failNext(operation: Operation, error: Error, key?: string): this {
    this.failures.push({ operation, error, ...(key ? { key } : {}) });
    return this;
  }

  /** Another writer changes the Deployment just before the next write of it lands: a conflict. */
  interfere(key: string, change: (d: V1Deployment) => void): this {
    this.interference.set(key, change);
    return this;
  }

  async list(): Promise<V1Deployment[]> {
    this.fail("list");
    return [...this.stored.values()].map((d) => structuredClone(d));
  }

  async read(ref: DeploymentRef): Promise<V1Deployment> {
    this.fail("read", keyOf(ref));
    const found = this.stored.get(keyOf(ref));
    if (!found)
      throw new PermanentError("not-found", `read deployment ${keyOf(ref)}: HTTP 404`, { status: 404 });
    return structuredClone(found);
  }

  async patch(
    current: V1Deployment,
    patch: DeploymentPatch,
    options: { dryRun?: boolean } = {},
  ): Promise<V1Deployment> {
    const key = keyOf(refOf(current));
    const stored = this.guard("patch", key, current);
    const next = structuredClone(stored);
    const metadata = (next.metadata ??= {});
    metadata.annotations = merge(metadata.annotations, patch.annotations);
    metadata.labels = merge(metadata.labels, patch.labels);
    if (patch.strategy !== undefined)
      (next.spec ??= { selector: {}, template: {} }).strategy = patch.strategy;
    if (options.dryRun) return next;
    this.writes.push({ key, patch });
    return this.put(next);
  }

  async replace(current: V1Deployment, updated: V1Deployment): Promise<V1Deployment> {
    const key = keyOf(refOf(current));
    this.guard("replace", key, current);
    this.writes.push({ key, patch: { annotations: {}, labels: {} } });
    return this.put(updated);
  }

  /** The stored version, after injected failures, interference and the resourceVersion check. */
  private guard(operation: Operation, key: string, current: V1Deployment): V1Deployment {
    this.fail(operation, key);
    const interfere = this.interference.get(key);
    if (interfere) {
      this.interference.delete(key);
      const changed = structuredClone(this.stored.get(key)!);
      interfere(changed);
      this.put(changed);
    }
    const stored = this.stored.get(key);
    if (!stored) throw new PermanentError("not-found", `patch deployment ${key}: HTTP 404`, { status: 404 });
    if (stored.metadata?.resourceVersion !== current.metadata?.resourceVersion) {
      throw new RetryableError(`patch deployment ${key}: HTTP 409`, { status: 409 });
    }
    return stored;
  }

  private fail(operation: Operation, key?: string): void {
    const index = this.failures.findIndex(
      (f) => f.operation === operation && (f.key === undefined || f.key === key),
    );
    if (index >= 0) throw this.failures.splice(index, 1)[0]!.error;
  }
}

function merge(
  current: Record<string, string> | undefined,
  patch: KeyPatch | undefined,
): Record<string, string> | undefined {
  if (patch === undefined) return current;
  const merged: Record<string, string> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** An apiserver that does not answer, as classify() reports it. */
export const unreachable = () => new RetryableError("patch deployment: fetch failed");
export const unavailable = () => new RetryableError("patch deployment: HTTP 503", { status: 503 });

export interface RecordedAlerts extends Alerter {
  interruptions: Parameters<Alerter["interruption"]>[0][];
  summaries: Parameters<Alerter["summary"]>[0][];
  problems: { message: string; details?: Record<string, string> | undefined }[];
}

export function recordingAlerter(): RecordedAlerts {
  const alerts: RecordedAlerts = {
    interruptions: [],
    summaries: [],
    problems: [],
    interruption: (alert) => void alerts.interruptions.push(alert),
    summary: (summary) => void alerts.summaries.push(summary),
    problem: (message, details) => void alerts.problems.push({ message, details }),
    flush: async () => true,
  };
  return alerts;
}

/** Records Events as the EventRecorder would write them; `deployment` is the `namespace/name` of the object. */
export function recordingRecorder() {
  const events: (DeploymentEvent & { deployment: string; kind: string; uid?: string | undefined })[] = [];
  return {
    events,
    record(deployment: V1Deployment, event: DeploymentEvent) {
      const { uid } = deployment.metadata ?? {};
      events.push({ ...event, deployment: keyOf(refOf(deployment)), kind: "Deployment", uid });
    },
    recordOn(regarding: V1ObjectReference, event: DeploymentEvent) {
      const { namespace = "", name = "", kind = "", uid } = regarding;
      events.push({ ...event, deployment: `${namespace}/${name}`, kind, uid });
    },
  };
}

/** Lifecycle actions completed, instead of Auto Scaling calls. */
export function recordingLifecycle(): LifecycleActions & { completed: AsgTermination[] } {
  const completed: AsgTermination[] = [];
  return { completed, complete: async (event) => void completed.push(event) };
}

// The kwok Stages the local cluster runs with (kwok.x-k8s.io/v1alpha1, appended to the kwokctl config).
// Once a config carries any Stage, kwokctl adds none of its defaults, so the node stages are here too and do
// what kwok's default ("fast") node stages do: a node becomes Ready, and its conditions are refreshed every
// ten minutes while its Lease says it is alive.
//
// Pods: a bound pod without `startupDelayAnnotation` is Running and Ready at once, as with kwok's defaults. A
// pod with it starts the way a kubelet reports an image pull (Pending with its IPs, containers waiting in
// ContainerCreating) and is Running and Ready once the annotation's duration has passed since it was bound
// (its PodScheduled condition, else its startTime). The moment is computed from the pod itself, so an update
// made to the pod while it starts does not restart the wait (kwok re-plans a stage on every pod change).
// Pods of Jobs complete and deleted pods go as with kwok's defaults.
import { stringify } from "yaml";

/**
 * Time from binding to Ready, as a Go duration (`45s`, `1m30s`, `1500ms`). Set on a pod, or on a pod template
 * (a test can give EC2 pods a second or two). Absent: Ready at once.
 */
export const startupDelayAnnotation = "test.spot-orchestrator.io/startup-delay";

type Expression = { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] };

interface StageSpec {
  kind: "Node" | "Pod";
  selector: Expression[];
  delay?: Record<string, unknown>;
  next: Record<string, unknown>;
}

const notDeleted: Expression = { key: ".metadata.deletionTimestamp", operator: "DoesNotExist" };
const pending: Expression = { key: ".status.phase", operator: "In", values: ["Pending"] };
const readyCondition = '.status.conditions[]? | select(.type == "Ready") | .status';
const ready: Expression = { key: readyCondition, operator: "In", values: ["True"] };
const notReady: Expression = { key: readyCondition, operator: "NotIn", values: ["True"] };
const startupAnnotation = `.metadata.annotations["${startupDelayAnnotation}"]`;
const withStartup: Expression = { key: startupAnnotation, operator: "Exists" };
const withoutStartup: Expression = { key: startupAnnotation, operator: "DoesNotExist" };

/**
 * jq: the time left until bound + the annotation's duration, as a Go duration (what kwok reads) in whole
 * milliseconds, rounded up: a deadline on a whole second must not pass a moment early.
 */
const timeUntilStarted = `
(${startupAnnotation}
  | [scan("([0-9.]+)(ms|s|m|h)") | (.[0] | tonumber) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[.[1]]]
  | add) as $delay
| ([.status.conditions[]? | select(.type == "PodScheduled" and .status == "True") | .lastTransitionTime][0]
    // .status.startTime
  | fromdate) as $bound
| "\\((($bound + $delay - now) * 1000) | ceil)ms"
`.trim();

const nodeReady = `
{{ $now := Now }}
conditions:
{{ range NodeConditions }}
- type: {{ .type | Quote }}
  status: {{ .status | Quote }}
  reason: {{ .reason | Quote }}
  message: {{ .message | Quote }}
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ or $.metadata.creationTimestamp $now | Quote }}
{{ end }}
`;

const nodeInitialized = `${nodeReady}
{{ if not .status.addresses }}
addresses:
- type: InternalIP
  address: {{ NodeIP | Quote }}
- type: Hostname
  address: {{ NodeName | Quote }}
{{ end }}
{{ if not .status.capacity }}
capacity: { cpu: 1k, memory: 1Ti, pods: 1M }
allocatable: { cpu: 1k, memory: 1Ti, pods: 1M }
{{ end }}
{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
{{ $version := printf "kwok-%s" Version | Quote }}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: {{ $version }}
  kubeProxyVersion: {{ $version }}
  containerRuntimeVersion: {{ $version }}
  kernelVersion: {{ $version }}
phase: Running
`;

const podAddresses = `
{{ with NodeIPsWith .spec.nodeName }}
hostIP: {{ index . 0 | Quote }}
hostIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
{{ with PodIPsWith .spec.nodeName (or .spec.hostNetwork false) (or .metadata.uid "") (or .metadata.name "") (or .metadata.namespace "") }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
`;

const unready = `'containers with unready status: [{{ range $i, $c := .spec.containers }}{{ if $i }} {{ end }}{{ $c.name }}{{ end }}]'`;

/** As a kubelet reports a pod whose images are being pulled. */
const podStarting = `
{{ $now := Now }}
conditions:
- type: Initialized
  lastTransitionTime: {{ $now | Quote }}
{{ if .spec.initContainers }}
  status: "False"
  reason: ContainersNotInitialized
{{ else }}
  status: "True"
{{ end }}
- type: Ready
  status: "False"
  reason: ContainersNotReady
  message: ${unready}
  lastTransitionTime: {{ $now | Quote }}
- type: ContainersReady
  status: "False"
  reason: ContainersNotReady
  message: ${unready}
  lastTransitionTime: {{ $now | Quote }}
{{ $waiting := "ContainerCreating" }}
{{ if .spec.initContainers }}
{{ $waiting = "PodInitializing" }}
initContainerStatuses:
{{ range .spec.initContainers }}
- { name: {{ .name | Quote }}, image: {{ .image | Quote }}, imageID: "", ready: false, started: false, restartCount: 0, state: { waiting: { reason: PodInitializing } } }
{{ end }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- { name: {{ .name | Quote }}, image: {{ .image | Quote }}, imageID: "", ready: false, started: false, restartCount: 0, state: { waiting: { reason: {{ $waiting }} } } }
{{ end }}
${podAddresses}
phase: Pending
startTime: {{ $now | Quote }}
`;

const podRunning = `
{{ $now := Now }}
conditions:
- { type: Initialized, status: "True", reason: "", lastTransitionTime: {{ $now | Quote }} }
- { type: Ready, status: "True", reason: "", message: "", lastTransitionTime: {{ $now | Quote }} }
- { type: ContainersReady, status: "True", reason: "", message: "", lastTransitionTime: {{ $now | Quote }} }
{{ range .spec.readinessGates }}
- { type: {{ .conditionType | Quote }}, status: "True", lastTransitionTime: {{ $now | Quote }} }
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
{{ if eq .restartPolicy "Always" }}
- { name: {{ .name | Quote }}, image: {{ .image | Quote }}, imageID: "", ready: true, started: true, restartCount: 0, state: { running: { startedAt: {{ $now | Quote }} } } }
{{ else }}
- { name: {{ .name | Quote }}, image: {{ .image | Quote }}, imageID: "", ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} } } }
{{ end }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- { name: {{ .name | Quote }}, image: {{ .image | Quote }}, imageID: "", ready: true, started: true, restartCount: 0, state: { running: { startedAt: {{ $now | Quote }} } } }
{{ end }}
phase: Running
`;

const podSucceeded = `
{{ $now := Now }}
containerStatuses:
{{ range .spec.containers }}
- { name: {{ .name | Quote }}, image: {{ .image | Quote }}, imageID: "", ready: false, started: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} } } }
{{ end }}
phase: Succeeded
`;

const stages: Record<string, StageSpec> = {
  "node-initialize": {
    kind: "Node",
    selector: [notReady],
    next: { statusTemplate: nodeInitialized },
  },
  "node-heartbeat": {
    kind: "Node",
    selector: [{ key: ".status.phase", operator: "In", values: ["Running"] }, ready],
    // liveness is the node Lease, which kwok renews; conditions are refreshed now and then, as with kwok's defaults
    delay: { durationMilliseconds: 600_000, jitterDurationMilliseconds: 610_000 },
    next: { statusTemplate: nodeReady },
  },
  "pod-ready": {
    kind: "Pod",
    selector: [notDeleted, pending, notReady, withoutStartup],
    next: { statusTemplate: `${podRunning}${podAddresses}startTime: {{ $now | Quote }}\n` },
  },
  "pod-starting": {
    kind: "Pod",
    selector: [notDeleted, pending, withStartup, { key: ".status.podIP", operator: "DoesNotExist" }],
    next: { statusTemplate: podStarting },
  },
  "pod-started": {
    kind: "Pod",
    selector: [notDeleted, pending, notReady, withStartup, { key: ".status.podIP", operator: "Exists" }],
    delay: { durationFrom: { expressionFrom: timeUntilStarted } },
    next: { statusTemplate: podRunning },
  },
  "pod-complete": {
    kind: "Pod",
    selector: [
      notDeleted,
      { key: ".status.phase", operator: "In", values: ["Running"] },
      { key: ".metadata.ownerReferences[]?.kind", operator: "In", values: ["Job"] },
    ],
    next: { statusTemplate: podSucceeded },
  },
  "pod-delete": {
    kind: "Pod",
    selector: [{ key: ".metadata.deletionTimestamp", operator: "Exists" }],
    next: { delete: true },
  },
};

/** The Stage documents, as YAML to append to a kwokctl config. */
export function kwokStages(): string {
  return Object.entries(stages)
    .map(([name, { kind, selector, delay, next }]) =>
      stringify(
        {
          apiVersion: "kwok.x-k8s.io/v1alpha1",
          kind: "Stage",
          metadata: { name },
          spec: {
            resourceRef: { apiGroup: "v1", kind },
            selector: { matchExpressions: selector },
            ...(delay ? { delay } : {}),
            next,
          },
        },
        { lineWidth: 0, blockQuote: "literal" },
      ),
    )
    .map((doc) => `---\n${doc}`)
    .join("");
}

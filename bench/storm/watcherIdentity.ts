// The watcher's own identity for the storm, as the chart gives it one: a ServiceAccount allowed exactly the
// calls the watcher makes (watcher/apiCalls.ts), and a kubeconfig with its token. A FlowSchema matching only
// that ServiceAccount makes the apiserver count the watcher's requests apart from everyone else's
// (apiserver_flowcontrol_dispatched_requests_total{flow_schema=...}): apiserver_request_total has labels for
// the verb, resource and code but none for the requester or its user agent. The FlowSchema sends the watcher
// to the exempt priority level, where the benchmark's own admin requests and the floor's go too, so counting
// it changes nothing of how it is served.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CoreV1Api,
  FlowcontrolApiserverV1Api,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import { ignoreNotFound } from "../../harness/cluster/api-errors.ts";
import { WATCHER_API_CALLS } from "../../watcher/apiCalls.ts";

export interface WatcherIdentity {
  /** `system:serviceaccount:<namespace>:<name>`. */
  username: string;
  kubeconfigPath: string;
  /** The FlowSchema that counts its requests. */
  flowSchema: string;
  /** Deletes the cluster-scoped objects (the ServiceAccount goes with its namespace). */
  remove(): Promise<void>;
}

const SERVICE_ACCOUNT = "storm-watcher";
/** Ahead of `service-accounts` (9000), which would take every ServiceAccount otherwise. */
const PRECEDENCE = 1000;

export async function createWatcherIdentity(
  kc: KubeConfig,
  namespace: string,
  dir: string,
): Promise<WatcherIdentity> {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const flowcontrol = kc.makeApiClient(FlowcontrolApiserverV1Api);
  const name = `${SERVICE_ACCOUNT}-${namespace}`;
  const remove = async () => {
    await ignoreNotFound(() => flowcontrol.deleteFlowSchema({ name }));
    await ignoreNotFound(() => rbac.deleteClusterRoleBinding({ name }));
    await ignoreNotFound(() => rbac.deleteClusterRole({ name }));
  };
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: SERVICE_ACCOUNT } } });
    await rbac.createClusterRole({ body: { metadata: { name }, rules: watcherRules() } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects: [{ kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace }],
      },
    });
    await flowcontrol.createFlowSchema({ body: flowSchema(name, namespace) });
    const token = await core.createNamespacedServiceAccountToken({
      namespace,
      name: SERVICE_ACCOUNT,
      body: { spec: { expirationSeconds: 4 * 3600 } },
    });
    const kubeconfigPath = join(dir, `${name}.kubeconfig`);
    await writeFile(kubeconfigPath, tokenKubeconfig(kc, token.status?.token ?? ""), { mode: 0o600 });
    return {
      username: `system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}`,
      kubeconfigPath,
      flowSchema: name,
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** The watcher's calls as RBAC rules, one per resource (the Lease's too, cluster-wide: enough for a benchmark). */
function watcherRules(): V1PolicyRule[] {
  return WATCHER_API_CALLS.map((call) => ({
    apiGroups: [call.group],
    resources: [call.resource],
    verbs: [...call.verbs],
  }));
}

function flowSchema(name: string, namespace: string) {
  return {
    metadata: { name },
    spec: {
      matchingPrecedence: PRECEDENCE,
      priorityLevelConfiguration: { name: "exempt" },
      rules: [
        {
          subjects: [{ kind: "ServiceAccount", serviceAccount: { name: SERVICE_ACCOUNT, namespace } }],
          resourceRules: [
            { verbs: ["*"], apiGroups: ["*"], resources: ["*"], clusterScope: true, namespaces: ["*"] },
          ],
          nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
        },
      ],
    },
  };
}

/** A kubeconfig (JSON, which is YAML) for the same apiserver with the token only: no client certificate. */
function tokenKubeconfig(kc: KubeConfig, token: string): string {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig names no cluster");
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "storm",
        cluster: {
          server: cluster.server,
          ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : {}),
          ...(cluster.caFile ? { "certificate-authority": cluster.caFile } : {}),
        },
      },
    ],
    users: [{ name: SERVICE_ACCOUNT, user: { token } }],
    contexts: [{ name: "storm", context: { cluster: "storm", user: SERVICE_ACCOUNT } }],
    "current-context": "storm",
  });
}

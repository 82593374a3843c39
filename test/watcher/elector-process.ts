// A leader-election candidate in a process of its own, so a test can kill it as a node failure would.
// Usage: node test/watcher/elector-process.ts <kubeconfig> <namespace> <lease name> <identity>
// Prints "leading" and "stopped" as its leadership changes.
import { createKube } from "../../core/kube.ts";
import { createLogger } from "../../core/log.ts";
import { LeaderElector } from "../../watcher/leaderElection.ts";

const [kubeconfig, namespace, name, identity] = process.argv.slice(2);
if (!kubeconfig || !namespace || !name || !identity) {
  process.stderr.write("usage: elector-process.ts <kubeconfig> <namespace> <lease name> <identity>\n");
  process.exit(2);
}

const elector = new LeaderElector({
  kube: createKube({ kubeconfig }),
  namespace,
  name,
  identity,
  log: createLogger({ level: "silent", format: "json" }),
  onStartedLeading: () => void process.stdout.write("leading\n"),
  onStoppedLeading: () => void process.stdout.write("stopped\n"),
});
process.on("SIGTERM", () => void elector.release().then(() => process.exit(0)));
await elector.run();

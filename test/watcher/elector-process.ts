// A leader-election candidate in a process of its own, so a test can kill it as a node failure would, and
// give it a machine whose wall clock is off.
// Usage: node test/watcher/elector-process.ts <kubeconfig> <namespace> <lease name> <identity> [clock skew ms]
// Prints "leading" and "stopped" as its leadership changes.
import { createKube } from "../../core/kube.ts";
import { createLogger } from "../../core/log.ts";
import { LeaderElector } from "../../watcher/lease/leaderElection.ts";

const [kubeconfig, namespace, name, identity, skew = "0"] = process.argv.slice(2);
if (!kubeconfig || !namespace || !name || !identity || !Number.isInteger(Number(skew))) {
  process.stderr.write(
    "usage: elector-process.ts <kubeconfig> <namespace> <lease name> <identity> [clock skew ms]\n",
  );
  process.exit(2);
}

// This machine's wall clock is `skew` ms off: the time everything here reads, the Lease's times included. Its
// monotonic clock (performance.now, timers) is not: a skewed clock keeps its pace.
const skewMs = Number(skew);
if (skewMs !== 0) {
  const wallClock = Date.now.bind(Date);
  Date.now = () => wallClock() + skewMs;
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

// kubectl from the build, against the cluster under test with the admin kubeconfig.
import { execFile } from "node:child_process";
import { kubectlBinary } from "../helm.ts";
import { testKubeconfigPath } from "../../support/testCluster.ts";

/** Runs kubectl; rejects with its output when it exits non-zero or outlives `timeoutMs`. */
export function kubectl(args: readonly string[], { timeoutMs = 60_000 } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      kubectlBinary(),
      ["--kubeconfig", testKubeconfigPath(), ...args],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err)
          reject(
            new Error(`kubectl ${args.join(" ")} failed: ${`${stderr}${stdout}`.trim() || err.message}`),
          );
        else resolve(stdout);
      },
    );
  });
}

// Flags every subcommand that talks to the cluster takes, for node:util's parseArgs.
export const CLUSTER_FLAGS = {
  config: { type: "string" },
  kubeconfig: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

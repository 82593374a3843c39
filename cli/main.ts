#!/usr/bin/env node
// spot-orchestrator: one CLI for both processes and the operator's tools.
import { ConfigError } from "../core/config.ts";
import { toError } from "../core/errors.ts";

const USAGE = `Usage: spot-orchestrator <command> [flags]

Commands:
  webhook   run the admission webhook (HTTPS /mutate, /validate)
  watcher   run the interruption watcher (SQS → Fargate, recovery to spot)
  status    print opted-in Deployments and their state
  drill     send a realistic interruption event for a node through the queue
  doctor    check config, RBAC, queue reachability and Fargate compatibility

Run 'spot-orchestrator <command> --help' for a command's flags.`;

type Command = (argv: string[]) => Promise<void>;

const commands: Record<string, () => Promise<Command>> = {
  webhook: async () => (await import("../webhook/command.ts")).webhookCommand,
  watcher: async () => (await import("../watcher/command.ts")).watcherCommand,
  status: async () => (await import("./status.ts")).statusCommand,
  drill: async () => (await import("./drill.ts")).drillCommand,
  doctor: async () => (await import("./doctor.ts")).doctorCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`spot-orchestrator: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    await (
      await load()
    )(rest);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`spot-orchestrator ${name}: invalid configuration:`);
      for (const problem of err.problems) console.error(`  ${problem}`);
      return 1;
    }
    console.error(`spot-orchestrator ${name}: ${toError(err).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));

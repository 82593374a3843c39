// What a demo run has made, on disk in .cluster/demo/<namespace>.json, so `npm run demo:down` can stop a
// running demo (its pid) or clean up after one that died (its namespace, nodes, profile, processes).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterDir } from "../harness/cluster/paths.ts";

export const demoDir = join(clusterDir, "demo");

export interface DemoState {
  pid: number;
  kubeconfigPath: string;
  namespace: string;
  logDir: string;
  /** Nodes the demo created, and Fargate nodes made for its pods. */
  nodes: string[];
  fargateProfile?: string;
  webhookConfiguration?: string;
  /** Child processes (webhook, watcher). */
  processes: number[];
}

export class StateFile {
  readonly path: string;
  readonly state: DemoState;

  constructor(state: Omit<DemoState, "nodes" | "processes">) {
    this.state = { ...state, nodes: [], processes: [] };
    this.path = join(demoDir, `${state.namespace}.json`);
    this.save();
  }

  update(change: (state: DemoState) => void): void {
    change(this.state);
    this.save();
  }

  addNode(name: string): void {
    if (!this.state.nodes.includes(name)) this.update((s) => s.nodes.push(name));
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }

  private save(): void {
    mkdirSync(demoDir, { recursive: true });
    writeFileSync(this.path, `${JSON.stringify(this.state, null, 2)}\n`);
  }
}

/** Every demo run on record, with the file it is recorded in. */
export function recordedRuns(): { path: string; state: DemoState }[] {
  let names: string[];
  try {
    names = readdirSync(demoDir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith(".json"))
    .flatMap((name) => {
      const path = join(demoDir, name);
      try {
        return [{ path, state: JSON.parse(readFileSync(path, "utf8")) as DemoState }];
      } catch {
        return [];
      }
    });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

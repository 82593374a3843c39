import { describe, expect, it } from "vitest";
import { PriorityLimit } from "./priorityLimit.ts";

/** A task that runs until released, recording when it started. */
function gate(started: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  const task = async () => {
    started.push(name);
    await done;
  };
  return { task, release };
}

describe("PriorityLimit", () => {
  it("runs at most `limit` at once, and the waiting task that sorts first next, whoever queued it", async () => {
    const limit = new PriorityLimit<number>(2, (a, b) => a - b);
    const started: string[] = [];
    const tasks = Object.fromEntries(["a", "b", "late", "early", "middle"].map((n) => [n, gate(started, n)]));
    const runs = [
      limit.run(5, tasks.a!.task),
      limit.run(5, tasks.b!.task),
      limit.run(30, tasks.late!.task), // queued first, sorts last
      limit.run(10, tasks.early!.task),
      limit.run(20, tasks.middle!.task),
    ];
    await Promise.resolve();
    expect(started).toEqual(["a", "b"]);
    expect(limit.queued).toBe(3);
    tasks.a!.release();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(["a", "b", "early"]);
    for (const name of ["b", "early", "middle", "late"]) {
      tasks[name]!.release();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(runs);
    expect(started).toEqual(["a", "b", "early", "middle", "late"]);
    expect(limit.queued).toBe(0);
  });

  it("keeps arrival order among equal keys and frees the slot of a task that throws", async () => {
    const limit = new PriorityLimit<number>(1, (a, b) => a - b);
    const order: string[] = [];
    const failing = limit.run(1, async () => {
      order.push("fails");
      throw new Error("no");
    });
    const first = limit.run(2, async () => void order.push("first"));
    const second = limit.run(2, async () => void order.push("second"));
    await expect(failing).rejects.toThrow("no");
    await Promise.all([first, second]);
    expect(order).toEqual(["fails", "first", "second"]);
  });
});

import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { Periodic } from "./periodic.ts";

function capturing() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: pino({ level: "debug" }, { write: (l: string) => void lines.push(JSON.parse(l)) }) };
}

describe("Periodic", () => {
  it("runs a pass at once on start, then one every interval, never two at once", async () => {
    const { log } = capturing();
    let running = 0;
    let most = 0;
    let passes = 0;
    const loop = new Periodic(
      5,
      async () => {
        most = Math.max(most, ++running);
        passes++;
        await new Promise((resolve) => setTimeout(resolve, 10));
        running--;
      },
      log,
    );
    loop.start();
    expect(passes).toBe(1);
    await vi.waitFor(() => expect(passes).toBeGreaterThanOrEqual(3));
    await loop.stop();
    expect(most).toBe(1);
  });

  it("logs a failing pass and runs the next one anyway", async () => {
    const { log, lines } = capturing();
    let passes = 0;
    const loop = new Periodic(
      1,
      async () => {
        if (++passes === 1) throw new Error("apiserver unreachable");
      },
      log,
    );
    loop.start();
    await vi.waitFor(() => expect(passes).toBeGreaterThanOrEqual(2));
    await loop.stop();
    expect(lines.find((l) => l["msg"] === "periodic pass failed")).toMatchObject({
      err: { message: "apiserver unreachable" },
    });
  });

  it("stop() waits for the pass under way and starts no other", async () => {
    const { log } = capturing();
    let finish: () => void = () => undefined;
    let passes = 0;
    let finished = false;
    const loop = new Periodic(
      1,
      async () => {
        passes++;
        await new Promise<void>((resolve) => (finish = resolve));
        finished = true;
      },
      log,
    );
    loop.start();
    const stopping = loop.stop();
    finish();
    await stopping;
    expect(finished).toBe(true);
    expect(passes).toBe(1);
  });
});

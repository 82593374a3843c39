import { describe, expect, it } from "vitest";
import { InterruptionLog } from "./interruptionLog.ts";

describe("InterruptionLog", () => {
  it("tells the nodes and zones interrupted within its window, and forgets older ones", () => {
    const log = new InterruptionLog(60_000);
    log.record("a", "eu-west-1a", 0);
    log.record("b", undefined, 30_000);
    log.record("c", "eu-west-1b", 50_000);
    expect(log.nodes(59_000)).toEqual(new Set(["a", "b", "c"]));
    expect(log.zones(59_000)).toEqual(new Set(["eu-west-1a", "eu-west-1b"]));
    expect(log.nodes(80_000)).toEqual(new Set(["b", "c"]));
    expect(log.zones(80_000)).toEqual(new Set(["eu-west-1b"]));
    expect(log.nodes(200_000)).toEqual(new Set());
  });
});

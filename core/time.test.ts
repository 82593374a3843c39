import { describe, expect, it } from "vitest";
import { parseTime, rfc3339 } from "./time.ts";

describe("rfc3339", () => {
  it("writes UTC at second precision, as Kubernetes and EventBridge do", () => {
    expect(rfc3339(new Date("2026-11-30T10:45:12.987Z"))).toBe("2026-11-30T10:45:12Z");
    expect(rfc3339(new Date("2026-11-30T10:45:12Z"))).toBe("2026-11-30T10:45:12Z");
  });

  it("reads back what it wrote", () => {
    const at = new Date("2026-11-30T10:45:12Z");
    expect(parseTime(rfc3339(at))).toBe(at.getTime());
  });
});

describe("parseTime", () => {
  it.each([undefined, "", "yesterday", 42])("is undefined for %j", (value) => {
    expect(parseTime(value)).toBeUndefined();
  });
});

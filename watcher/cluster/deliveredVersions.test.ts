import { describe, expect, it } from "vitest";
import { DeliveredVersions } from "./deploymentIndex.ts";

describe("DeliveredVersions", () => {
  it("knows the versions delivered for an object, the latest `kept` of them", () => {
    const versions = new DeliveredVersions(2);
    versions.delivered("ns/web", "10");
    expect(versions.has("ns/web", "10")).toBe(true);
    expect(versions.has("ns/web", "11")).toBe(false); // written, not yet delivered: read it elsewhere
    versions.delivered("ns/web", "11");
    versions.delivered("ns/web", "12");
    expect(versions.has("ns/web", "10")).toBe(false); // forgotten: not known, so not taken as seen
    expect(versions.has("ns/web", "12")).toBe(true);
    expect(versions.has("ns/api", "12")).toBe(false);
  });

  it("forgets an object (deleted, relisted, no longer kept whole)", () => {
    const versions = new DeliveredVersions();
    versions.delivered("ns/web", "10");
    versions.forget("ns/web");
    expect(versions.has("ns/web", "10")).toBe(false);
  });
});

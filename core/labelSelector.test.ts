import { describe, expect, it } from "vitest";
import { isEmptySelector, selectorMatches, selectorString } from "./labelSelector.ts";

describe("selectorString", () => {
  it("renders matchLabels and every expression operator", () => {
    expect(
      selectorString({
        matchLabels: { app: "web", tier: "front" },
        matchExpressions: [
          { key: "env", operator: "In", values: ["a", "b"] },
          { key: "zone", operator: "NotIn", values: ["c"] },
          { key: "canary", operator: "Exists" },
          { key: "legacy", operator: "DoesNotExist" },
        ],
      }),
    ).toBe("app=web,tier=front,env in (a,b),zone notin (c),canary,!legacy");
    expect(selectorString(undefined)).toBe("");
  });
});

describe("selectorMatches", () => {
  const labels = { app: "web", tier: "front", env: "a" };
  it.each([
    [{ matchLabels: { app: "web" } }, true],
    [{ matchLabels: { app: "web", tier: "back" } }, false],
    [{ matchLabels: { app: "web", missing: "x" } }, false],
    [{ matchExpressions: [{ key: "env", operator: "In", values: ["a", "b"] }] }, true],
    [{ matchExpressions: [{ key: "env", operator: "In", values: ["b"] }] }, false],
    [{ matchExpressions: [{ key: "missing", operator: "In", values: ["a"] }] }, false],
    [{ matchExpressions: [{ key: "env", operator: "NotIn", values: ["b"] }] }, true],
    [{ matchExpressions: [{ key: "missing", operator: "NotIn", values: ["b"] }] }, true],
    [{ matchExpressions: [{ key: "env", operator: "NotIn", values: ["a"] }] }, false],
    [{ matchExpressions: [{ key: "tier", operator: "Exists" }] }, true],
    [{ matchExpressions: [{ key: "missing", operator: "Exists" }] }, false],
    [{ matchExpressions: [{ key: "missing", operator: "DoesNotExist" }] }, true],
    [{ matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] }, false],
    [{ matchExpressions: [{ key: "tier", operator: "Gt", values: ["1"] }] }, false],
    [{ matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "Exists" }] }, true],
    [{}, true],
  ])("%j on app=web,tier=front,env=a: %s", (selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});

describe("isEmptySelector", () => {
  it("is true only without any requirement", () => {
    expect(isEmptySelector(undefined)).toBe(true);
    expect(isEmptySelector({ matchLabels: {}, matchExpressions: [] })).toBe(true);
    expect(isEmptySelector({ matchLabels: { app: "web" } })).toBe(false);
    expect(isEmptySelector({ matchExpressions: [{ key: "a", operator: "Exists" }] })).toBe(false);
  });
});

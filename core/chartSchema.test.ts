import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CHART_SCHEMA_FILE, chartSchemaText, configSchema, formatJson } from "./chartSchema.ts";
import { parseDuration } from "./duration.ts";
import { parseToleration } from "./settingKinds.ts";
import { SETTINGS, type Setting } from "./settings.ts";

const checkedIn = readFileSync(CHART_SCHEMA_FILE, "utf8");
const schema = JSON.parse(checkedIn) as {
  $defs: Record<string, { pattern: string }>;
  properties: Record<string, unknown>;
};

describe("the chart's values.schema.json", () => {
  it("has the config part generated from the settings (run `node core/settingsTable.ts --write` after a change)", () => {
    expect(formatJson(schema.properties["config"])).toBe(formatJson(configSchema()));
  });

  it("is written in the repository's format, so that writing it changes nothing else", () => {
    expect(chartSchemaText(checkedIn)).toBe(checkedIn);
  });

  it("offers every setting the chart does not set itself, with its description", () => {
    const config = configSchema().properties ?? {};
    const offered = Object.entries(config).flatMap(([section, s]) =>
      Object.entries(s.properties ?? {}).map(([name, p]) => [`${section}.${name}`, p.description]),
    );
    const table = SETTINGS as readonly Setting<unknown>[];
    expect(offered).toEqual(
      table.filter((s) => s.chartSets === undefined).map((s) => [s.key, s.description]),
    );
  });

  it.each([
    ["a duration", "recovery.max_backoff", { $ref: "#/$defs/duration" }],
    ["an int", "kubernetes.qps", { type: "integer", minimum: 1 }],
    ["a bool", "migration.dry_run", { type: "boolean" }],
    ["a url", "aws.sqs_queue_url", { type: "string", pattern: "^(https?://.+)?$" }],
    ["a list", "kubernetes.namespace", { type: "array", items: { type: "string" } }],
    ["a map", "compute.spot_node_selector", { type: "object", additionalProperties: { type: "string" } }],
    ["one of some values", "fargate.fallback", { type: "string", enum: ["none", "on-demand"] }],
  ])("maps %s to its JSON Schema (%s)", (_kind, key, expected) => {
    const [section, name] = key.split(".") as [string, string];
    expect(configSchema().properties?.[section]?.properties?.[name]).toMatchObject(expected);
  });

  it("refines a kind with the setting's own constraints", () => {
    const kubernetes = configSchema().properties?.["kubernetes"]?.properties ?? {};
    expect(kubernetes["namespace"]?.items).toEqual({
      type: "string",
      pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    });
    expect(kubernetes["deployment_name"]?.pattern).toBe("^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$");
  });

  it.each([
    ["5s", true],
    ["0", true],
    ["1h30m", true],
    ["1.5h", true],
    ["500ms", true],
    ["5", false],
    ["45 minutes", false],
    ["-1s", false],
  ])("has a duration pattern that agrees with the loader: %s", (text, valid) => {
    const parses = (() => {
      try {
        parseDuration(text);
        return true;
      } catch {
        return false;
      }
    })();
    expect(parses).toBe(valid);
    expect(new RegExp(schema.$defs["duration"]!.pattern).test(text)).toBe(valid);
  });

  it("has a toleration pattern that agrees with the loader", () => {
    const compute = configSchema().properties?.["compute"]?.properties ?? {};
    const pattern = new RegExp(compute["spot_tolerations"]?.items?.pattern ?? "");
    for (const good of ["spot=true:NoSchedule", "dedicated:NoExecute", "a=b", "a"]) {
      expect(() => parseToleration(good)).not.toThrow();
      expect(pattern.test(good)).toBe(true);
    }
    for (const bad of ["spot=true:Sometimes", "=x", ":NoSchedule"]) {
      expect(() => parseToleration(bad)).toThrow();
      expect(pattern.test(bad)).toBe(false);
    }
  });
});

// The `config` part of the chart's values.schema.json, generated from the settings table so the two never
// drift: one object per config.toml section, one property per setting the chart offers (those it sets itself
// are left out), typed by the setting's kind, with its description. The rest of the schema is kept by hand.
// `node core/settingsTable.ts --write` refreshes it.
import { readFileSync, writeFileSync } from "node:fs";
import type { JsonSchema } from "./settingKinds.ts";
import { SETTINGS, type Setting } from "./settings.ts";

export const CHART_SCHEMA_FILE = new URL(
  "../charts/spot-fargate-orchestrator/values.schema.json",
  import.meta.url,
);

/** The schema of the chart's `config` value. */
export function configSchema(): JsonSchema {
  const sections: Record<string, JsonSchema> = {};
  for (const setting of SETTINGS as readonly Setting<unknown>[]) {
    if (setting.chartSets !== undefined) continue;
    const [section, name] = setting.key.split(".") as [string, string];
    const properties = ((sections[section] ??= strictObject({})).properties ??= {});
    properties[name] = settingSchema(setting);
  }
  return strictObject(sections);
}

function strictObject(properties: Record<string, JsonSchema>): JsonSchema {
  return { type: "object", additionalProperties: false, properties };
}

function settingSchema(setting: Setting<unknown>): JsonSchema {
  const { type, $ref, ...rest } = refined(setting.kind.json, setting.chartSchema ?? {});
  return {
    ...(type === undefined ? {} : { type }),
    ...($ref === undefined ? {} : { $ref }),
    description: setting.description,
    ...rest,
  };
}

/** The kind's schema with the setting's own constraints on top (`items` merged, not replaced). */
function refined(base: JsonSchema, extra: JsonSchema): JsonSchema {
  const { items, ...rest } = extra;
  const merged = { ...base, ...rest };
  if (items !== undefined) merged.items = refined(base.items ?? {}, items);
  return merged;
}

/** The schema file with its `config` part generated afresh. */
export function chartSchemaText(current: string): string {
  const schema = JSON.parse(current) as { properties: Record<string, unknown> };
  schema.properties["config"] = configSchema();
  return `${formatJson(schema)}\n`;
}

/**
 * JSON as Prettier writes it (the repository's format): two-space indents, objects open, arrays of plain
 * values on one line when the line fits (`lead`: what precedes the value on its line).
 */
export function formatJson(value: unknown, indent = "", lead = indent.length, width = 110): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every((item) => item === null || typeof item !== "object")) {
      const line = `[${value.map((item) => JSON.stringify(item)).join(", ")}]`;
      if (lead + line.length + 1 <= width) return line;
    }
    const items = value.map((item) => inner + formatJson(item, inner, inner.length, width));
    return `[\n${items.join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const lines = entries.map(([key, item]) => {
      const start = `${inner}${JSON.stringify(key)}: `;
      return start + formatJson(item, inner, start.length, width);
    });
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

export function writeChartSchema(): void {
  writeFileSync(CHART_SCHEMA_FILE, chartSchemaText(readFileSync(CHART_SCHEMA_FILE, "utf8")));
}

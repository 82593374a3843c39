// The README's table of every setting, generated from the settings table so the two never drift.
// `node core/settingsTable.ts --write` refreshes the README, and the `config` part of the chart's
// values.schema.json (core/chartSchema.ts).
import { readFileSync, writeFileSync } from "node:fs";
import { writeChartSchema } from "./chartSchema.ts";
import { SETTINGS, type Setting } from "./settings.ts";

export function settingsTable(): string {
  const rows = (SETTINGS as readonly Setting<unknown>[]).map((s) => {
    const kind = s.kind.name;
    const def =
      s.default === ""
        ? s.requiredBy
          ? `required by ${s.requiredBy.join(", ")}`
          : "(empty)"
        : `\`${s.default}\``;
    return `| \`${s.key}\` | \`${s.env}\` | ${kind} | ${def} | ${s.description} |`;
  });
  return [
    "| config.toml key | environment | kind | default | meaning |",
    "|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

if (import.meta.main) {
  if (process.argv.includes("--write")) {
    const path = new URL("../README.md", import.meta.url);
    const readme = readFileSync(path, "utf8").replace(
      /(<!-- settings-table:start -->\n)[\s\S]*?(\n?<!-- settings-table:end -->)/,
      (_m, start: string) => `${start}${settingsTable()}\n<!-- settings-table:end -->`,
    );
    writeFileSync(path, readme);
    writeChartSchema();
  } else {
    console.log(settingsTable());
  }
}

// The README's table of every setting, generated from the settings table so the two never drift.
import { SETTINGS, type Setting } from "./settings.ts";

export function settingsTable(): string {
  const rows = (SETTINGS as readonly Setting[]).map((s) => {
    const kind = typeof s.kind === "object" ? s.kind.oneOf.join(" \\| ") : s.kind;
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

if (import.meta.main) console.log(settingsTable());

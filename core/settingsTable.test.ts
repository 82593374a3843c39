import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { settingsTable } from "./settingsTable.ts";

describe("the README's settings table", () => {
  it("is the one generated from the settings (run `node core/settingsTable.ts --write` after a change)", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /<!-- settings-table:start -->\n([\s\S]*?)\n<!-- settings-table:end -->/.exec(readme);
    expect(block?.[1]).toBe(settingsTable());
  });
});

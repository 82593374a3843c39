import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("..", import.meta.url).pathname;
const readme = readFileSync(join(root, "README.md"), "utf8");
const map = /<!-- code-map:start -->\n([\s\S]*?)\n<!-- code-map:end -->/.exec(readme)?.[1] ?? "";
const mapped = [...map.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);

function productionFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((f) => f.isFile() && f.name.endsWith(".ts") && !f.name.endsWith(".test.ts"))
    .map((f) => join(f.parentPath, f.name).slice(root.length));
}

describe("the README's code map", () => {
  it("names every production file", () => {
    const files = ["core", "webhook", "watcher", "cli"].flatMap(productionFiles);
    expect(files.filter((f) => !mapped.includes(f))).toEqual([]);
  });

  it("names nothing that is not in the tree", () => {
    expect(mapped.length).toBeGreaterThan(0);
    expect(mapped.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });
});

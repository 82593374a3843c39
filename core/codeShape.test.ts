// The shape of the production code: no import circle, no function longer than a screen.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = new URL("..", import.meta.url).pathname;
const FOLDERS = ["core", "webhook", "watcher", "cli", "demo", "bench", "harness"];
const MAX_LINES = 60;
/** Declared as data, one entry a setting: long by nature. */
const TABLES = new Set(["core/settings.ts"]);

function productionFiles(): string[] {
  return FOLDERS.flatMap((dir) => {
    try {
      return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
        .filter((f) => f.isFile() && f.name.endsWith(".ts") && !f.name.endsWith(".test.ts"))
        .map((f) => join(f.parentPath, f.name).slice(root.length));
    } catch {
      return []; // a folder this checkout does not have
    }
  });
}

const files = productionFiles();
const sources = new Map(
  files.map((f) => [
    f,
    ts.createSourceFile(f, readFileSync(join(root, f), "utf8"), ts.ScriptTarget.Latest, true),
  ]),
);

/** The production files `file` imports, types included: a circle of types is a circle to a reader too. */
function importsOf(file: string): string[] {
  const found: string[] = [];
  for (const statement of sources.get(file)!.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    const spec = statement.moduleSpecifier;
    if (spec === undefined || !ts.isStringLiteral(spec) || !spec.text.startsWith(".")) continue;
    const target = normalize(join(dirname(file), spec.text));
    if (sources.has(target)) found.push(target);
  }
  return found;
}

/** Every import circle, each as the files around it. */
function circles(): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

/** Functions, methods and arrow functions longer than MAX_LINES, as `file:line name (lines)`. */
function longFunctions(): string[] {
  const long: string[] = [];
  for (const [file, source] of sources) {
    if (TABLES.has(file)) continue;
    const walk = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
        const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        if (end - start + 1 > MAX_LINES) {
          const name = node.name && ts.isIdentifier(node.name) ? node.name.text : "(anonymous)";
          long.push(`${file}:${start + 1} ${name} (${end - start + 1} lines)`);
        }
      }
      ts.forEachChild(node, walk);
    };
    walk(source);
  }
  return long;
}

describe("the production code", () => {
  it("has no import circle", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(circles().map((c) => c.join(" → "))).toEqual([]);
  });

  it(`has no function over ${MAX_LINES} lines`, () => {
    expect(longFunctions()).toEqual([]);
  });
});

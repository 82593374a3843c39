// Loaded with `--import`: records every module the process resolves (ES modules and require() alike) and
// writes their URLs, one a line, to $MODULE_TRACE_FILE when the process exits.
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const file = process.env["MODULE_TRACE_FILE"];
if (file === undefined) throw new Error("moduleTrace.ts needs MODULE_TRACE_FILE");
const urls = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    urls.add(resolved.url);
    return resolved;
  },
});
process.on("exit", () => writeFileSync(file, [...urls].join("\n")));

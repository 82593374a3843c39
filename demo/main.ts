// `npm run demo [-- --keep | --ci | --report PATH | --kubeconfig PATH]`; see options.ts.
import { errorMessage } from "../harness/cluster/wait.ts";
import { parseDemoArgs, USAGE } from "./options.ts";
import { runDemo } from "./run.ts";

const options = (() => {
  try {
    return parseDemoArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n\n${USAGE}\n`);
    process.exit(2);
  }
})();
if (options === "help") {
  console.log(USAGE);
} else {
  if (options.ci) process.env["NO_COLOR"] = "1";
  process.exitCode = await runDemo(options);
}

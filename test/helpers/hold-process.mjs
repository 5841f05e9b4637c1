// Preload (NODE_OPTIONS=--import) that holds the CLI at a chosen instant so that a test can signal it right there.
// CHANTAL_TEST_HOLD_AT=start: while bin/main is being imported (start-up); =exit: once the command has finished
// (the first "beforeExit"). It writes <CHANTAL_TEST_HOLD_DIR>/held, then waits for <CHANTAL_TEST_HOLD_DIR>/go.
import { existsSync, writeFileSync } from "node:fs";
import { register } from "node:module";
import { join } from "node:path";

const dir = process.env.CHANTAL_TEST_HOLD_DIR;
const at = process.env.CHANTAL_TEST_HOLD_AT;
if (dir && at === "start") {
  // The hooks run on their own thread: the main thread's event loop (and its signal handling) goes on meanwhile.
  register("./hold-process-hooks.mjs", import.meta.url);
} else if (dir && at === "exit") {
  process.once("beforeExit", () => {
    writeFileSync(join(dir, "held"), String(process.pid));
    const timer = setInterval(() => existsSync(join(dir, "go")) && clearInterval(timer), 20);
  });
}

#!/usr/bin/env -S node --max-old-space-size=1536
// Entry shim: run the compiled CLI, or the TypeScript sources when CHANTAL_FROM_SOURCE=1 (tests, development).
// The shebang's flags are core/node-flags.ts (why: there); with `node bin/chantal-run.js`, pass them yourself.
import { existsSync } from "node:fs";
import module from "node:module";
import { homedir } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, isAbsolute, join } from "node:path";

// First thing (the imports above are built-ins): until core/runtime/signals.ts takes over, SIGINT/SIGTERM/SIGHUP are recorded,
// so a signal during start-up (loading tsx and the sources takes a while) is handled like one later instead of killing us.
const startupSignals = { received: [], hangups: 0, listeners: {} };
for (const name of ["SIGINT", "SIGTERM"]) {
  startupSignals.listeners[name] = () => {
    if (startupSignals.received.length > 0) process.exit(name === "SIGINT" ? 130 : 143); // a second one: exit at once
    startupSignals.received.push(name);
  };
  process.on(name, startupSignals.listeners[name]);
}
startupSignals.listeners.SIGHUP = () => startupSignals.hangups++; // the scheduler's reload, else re-raised (core/runtime/signals.ts)
process.on("SIGHUP", startupSignals.listeners.SIGHUP);
process[Symbol.for("chantal.startupSignals")] = startupSignals;

// The AWS SDK warns on Node 20 on every start: noise among JSON log lines (see README "Deploying to AWS").
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

// V8's compiled code of our modules kept between runs (Node >= 22.1): a one-shot command starts ~0.1 s of CPU sooner.
// In the user's own cache directory, never a shared /tmp where another user could plant code; NODE_COMPILE_CACHE
// (another directory) and NODE_DISABLE_COMPILE_CACHE=1 (none) are Node's own and win. A failure only costs the speed.
const cacheHome = process.env.XDG_CACHE_HOME && isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : join(homedir(), ".cache");
if (typeof module.enableCompileCache === "function" && cacheHome !== "/.cache") {
  try {
    module.enableCompileCache(join(cacheHome, "chantal", "node-compile-cache"));
  } catch {
    // an unwritable home: run without the cache
  }
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "bin", "main.js");
if (process.env.CHANTAL_FROM_SOURCE === "1" || !existsSync(compiled)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(join(root, "bin", "main.ts")).href);
} else {
  await import(pathToFileURL(compiled).href);
}

#!/usr/bin/env node
// Entry shim: run the compiled CLI, or the TypeScript sources when CHANTAL_FROM_SOURCE=1 (tests, development).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "bin", "main.js");
if (process.env.CHANTAL_FROM_SOURCE === "1" || !existsSync(compiled)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(join(root, "bin", "main.ts")).href);
} else {
  await import(pathToFileURL(compiled).href);
}

// Module hooks of hold-process.mjs: resolving bin/main waits until the test says go (see there).
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const dir = process.env.CHANTAL_TEST_HOLD_DIR;
let held = false;

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (!held && /\/bin\/main\.(ts|js)$/.test(result.url)) {
    held = true;
    writeFileSync(join(dir, "held"), "start");
    while (!existsSync(join(dir, "go"))) await sleep(20);
  }
  return result;
}

// Build step after tsc: dist/core/db/drizzle.js becomes one file with drizzle-orm inside (pg stays an import), so a
// command's start loads one module instead of ~135 that each make Node 24 re-read drizzle's 178 KB package.json.
import { build } from "esbuild";

const file = new URL("../dist/core/db/drizzle.js", import.meta.url).pathname;
await build({
  entryPoints: [file],
  outfile: file,
  allowOverwrite: true,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  external: ["pg"],
  legalComments: "inline",
  logLevel: "warning",
});

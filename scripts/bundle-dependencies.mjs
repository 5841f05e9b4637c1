// Build step after tsc: the npm packages every command loads are bundled by esbuild, so that a command's start resolves
// and links ~380 modules instead of ~850 (each costs start-up time, compile cache or not).
// 1. dist/core/db/drizzle.js (the one door to drizzle-orm) becomes one file with drizzle-orm inside: drizzle's 178 KB
//    package.json was re-read by Node 24 for each of its ~135 files.
// 2. undici, zod, yaml, pg, cron-parser and commander (~330 modules) become one file each under dist/vendor/, and
//    dist's imports of them (drizzle.js's of pg too) point there.
// The sources (tests, tsx, type checks) import the packages themselves; only the built CLI uses the bundles.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** Packages bundled under dist/vendor/: each is imported by its bare name only (no subpath), which `rewrite` relies on. */
const VENDORED = ["undici", "zod", "yaml", "pg", "cron-parser", "commander"];

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const vendor = join(dist, "vendor");
const common = { bundle: true, format: "esm", platform: "node", target: "node22", legalComments: "inline", logLevel: "warning" };

const drizzle = join(dist, "core", "db", "drizzle.js");
await build({ ...common, entryPoints: [drizzle], outfile: drizzle, allowOverwrite: true, external: ["pg"] });

/** An ES module re-exporting exactly what Node offers an importer of `pkg` (named exports and default, when it has one). */
async function entryOf(pkg) {
  const ns = await import(pkg);
  // Node 23+ adds "module.exports" to a CommonJS namespace: not a name an import statement can use.
  const names = Object.keys(ns).filter((k) => k !== "default" && /^[A-Za-z_$][\w$]*$/.test(k));
  const from = JSON.stringify(pkg);
  return `export { ${names.join(", ")} } from ${from};\n${"default" in ns ? `export { default } from ${from};\n` : ""}`;
}

for (const pkg of VENDORED) {
  await build({
    ...common,
    stdin: { contents: await entryOf(pkg), resolveDir: root, sourcefile: `vendor-${pkg}.mjs`, loader: "js" },
    outfile: join(vendor, `${pkg}.js`),
    // CommonJS inside an ES module bundle: its require() of Node's built-ins needs a real require.
    banner: { js: 'import { createRequire as __vendorRequire } from "node:module"; const require = __vendorRequire(import.meta.url);' },
    // pg's optional native binding is never installed by us; left as a require that pg itself guards.
    external: ["pg-native"],
  });
}

const specifier = new RegExp(`(\\bfrom\\s*|\\bimport\\s*\\(\\s*|\\bimport\\s+)(["'])(${VENDORED.join("|")})\\2`, "g");

/** `code` with its imports of a vendored package pointed at dist/vendor/, relative to `file`. */
function rewrite(code, file) {
  return code.replace(specifier, (_m, lead, quote, pkg) => {
    let path = relative(dirname(file), join(vendor, `${pkg}.js`)).replaceAll("\\", "/");
    if (!path.startsWith(".")) path = `./${path}`;
    return `${lead}${quote}${path}${quote}`;
  });
}

function* jsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== vendor) yield* jsFiles(path);
    } else if (entry.name.endsWith(".js")) yield path;
  }
}

let rewritten = 0;
for (const file of jsFiles(dist)) {
  const code = readFileSync(file, "utf8");
  const out = rewrite(code, file);
  if (out !== code) {
    writeFileSync(file, out);
    rewritten++;
  }
}
if (rewritten === 0) throw new Error("bundle-dependencies: no import of a vendored package found in dist/ (did tsc run?)");

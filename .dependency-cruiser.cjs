// dependency-cruiser: the layer rules of docs/DESIGN.md ("Conventions") and no import circles; `npm run deps` checks them.
// Paths are relative to the repository root; `$1` in a `to` path is the group the `from` path matched.

/** Orchestrators: they call the formats, so a format that imports one climbs back up. */
const ORCHESTRATORS = "^(functions/|core/(publish|snapshots|backup|lifecycle|schedule)/|core/repository-types\\.ts$)";
/** The formats: one directory per repository type. */
const FORMATS = "^core/(rpm|apt)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import circle has no bottom: neither module can be understood, tested or moved without the other. Type-only imports count too.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "core-not-to-entry-points",
      comment: "core/ is the library; bin/ (the CLI) and functions/ (handlers, the container entry) are its callers, never its dependencies.",
      severity: "error",
      from: { path: "^core/" },
      to: { path: "^(bin|functions)/" },
    },
    {
      name: "functions-not-to-bin",
      comment: "functions/ runs without the CLI (container, scheduler daemon): what both need lives in core/.",
      severity: "error",
      from: { path: "^functions/" },
      to: { path: "^bin/" },
    },
    {
      name: "format-not-to-orchestrator",
      comment: "Data flows one way: orchestrators call the formats, and a format never calls back up (it gets what it needs in its context).",
      severity: "error",
      from: { path: FORMATS },
      to: { path: ORCHESTRATORS },
    },
    {
      name: "formats-not-to-each-other",
      comment: "rpm/ and apt/ are siblings: what both need (safe locations, commit, downloads) sits below them in core/mirror/.",
      severity: "error",
      from: { path: "^core/(rpm|apt)/" },
      to: { path: FORMATS, pathNot: "^core/$1/" },
    },
    {
      name: "mirror-not-to-formats",
      comment: "core/mirror/ holds the format-neutral helpers below rpm/ and apt/: importing a format would make it one of them.",
      severity: "error",
      from: { path: "^core/mirror/" },
      to: { path: FORMATS },
    },
    {
      name: "db-not-up",
      comment: "core/db/ is the bottom of the data path: it knows tables, not the formats, helpers or orchestrators that use them.",
      severity: "error",
      from: { path: "^core/db/" },
      to: { path: `${FORMATS}|^core/(mirror|sync)/|${ORCHESTRATORS}` },
    },
    {
      name: "production-not-to-tests",
      comment: "test/ and bench/ may import anything, but shipped code never depends on them (they are not in the package).",
      severity: "error",
      from: { path: "^(bin|core|functions|infra)/" },
      to: { path: "^(test|bench)/" },
    },
    {
      name: "no-core-sync",
      comment: "core/sync/ was split: the orchestration lives in functions/ and core/publish/, the helpers in core/mirror/; nothing brings it back.",
      severity: "error",
      from: { pathNot: "^core/sync/" },
      to: { path: "^core/sync/" },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that resolves to nothing is a typo or a missing dependency; fail here with the file named.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "drizzle-through-core-db-drizzle",
      comment: "drizzle-orm is imported only by core/db/drizzle.ts, which the build bundles: one copy of drizzle, loaded as one file.",
      severity: "error",
      from: { pathNot: "^core/db/drizzle\\.ts$" },
      to: { path: "node_modules/drizzle-orm/" },
    },
    {
      name: "production-not-to-dev-dependencies",
      comment: "The installed package has no devDependencies: shipped code importing one works in the checkout and fails once installed.",
      severity: "error",
      // the entry shim loads tsx only to run the sources (CHANTAL_FROM_SOURCE=1, or a checkout without dist/)
      from: { path: "^(bin|core|functions)/", pathNot: "^bin/chantal-run\\.js$" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    // Packages are leaves: their insides are not our layers.
    doNotFollow: { path: "node_modules" },
    // Type-only imports are part of the structure: a format importing an orchestrator's type still climbs.
    tsPreCompilationDeps: true,
    // NodeNext resolution: `./x.js` specifiers resolve to `./x.ts`.
    tsConfig: { fileName: "tsconfig.json" },
    // Packages' `exports` maps, read as Node reads them for an ESM import.
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"], mainFields: ["module", "main", "types"] },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};

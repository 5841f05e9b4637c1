// Tests of core/filter/closure.ts: the dependency closure under rpm's and dpkg's matching rules, and its scale.
import { describe, expect, it } from "vitest";
import { parseDebianVersion, compareDebianParts } from "../../../core/apt/version.js";
import { FilterSchema } from "../../../core/config/schema.js";
import { closeDependencies, DPKG_RULES, RPM_RULES, type ClosureOptions } from "../../../core/filter/closure.js";
import { planFilter, selectPackages, unsatisfiedMessage } from "../../../core/filter/plan.js";
import type { Capability, FilterPackage, Requirement, VersionOp } from "../../../core/filter/types.js";
import { compareEvr } from "../../../core/rpm/evr.js";
import type { VersionParts } from "../../../core/version-parts.js";

type Format = "rpm" | "dpkg";

function parseVersion(text: string, format: Format): VersionParts {
  if (format === "dpkg") return parseDebianVersion(text);
  const colon = text.indexOf(":");
  const epoch = colon === -1 ? 0 : Number(text.slice(0, colon));
  const rest = text.slice(colon + 1);
  const dash = rest.lastIndexOf("-");
  return dash === -1 ? { epoch, version: rest, release: "" } : { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

/** "foo", "foo >= 1.0", "foo (>= 1.0)" (dpkg's << and >> as < and >). */
function cap(text: string, format: Format): Capability {
  const m = /^(\S+?)\s*(?:\(?\s*(<<|>>|<=|>=|=|<|>)\s*([^\s)]+)\s*\)?)?$/.exec(text.trim());
  if (!m) throw new Error(`bad capability ${text}`);
  if (!m[2]) return { name: m[1]! };
  const op = (m[2] === "<<" ? "<" : m[2] === ">>" ? ">" : m[2]) as VersionOp;
  return { name: m[1]!, op, version: parseVersion(m[3]!, format) };
}

function req(text: string, format: Format, approximate = false): Requirement {
  return { text, alternatives: text.split("|").map((a) => cap(a, format)), ...(approximate ? { approximate } : {}) };
}

interface Spec {
  provides?: string[];
  requires?: string[];
  rich?: Requirement[];
  files?: string[];
}

/** "name-version-release.arch" (rpm) or "name_version_arch" (dpkg). */
function pkg(id: string, spec: Spec = {}, format: Format = "rpm"): FilterPackage {
  let name: string;
  let version: VersionParts;
  let arch: string;
  if (format === "rpm") {
    const m = /^(.+)-((?:\d+:)?[^-]+-[^-]+)\.([^.]+)$/.exec(id)!;
    [name, version, arch] = [m[1]!, parseVersion(m[2]!, "rpm"), m[3]!];
  } else {
    const [n, v, a] = id.split("_");
    [name, version, arch] = [n!, parseVersion(v!, "dpkg"), a!];
  }
  return {
    name,
    arch,
    version,
    source: arch === "src",
    provides: (spec.provides ?? []).map((p) => cap(p, format)),
    requires: [...(spec.requires ?? []).map((r) => req(r, format)), ...(spec.rich ?? [])],
    ...(spec.files ? { files: spec.files } : {}),
  };
}

const RPM: ClosureOptions = { compareVersions: compareEvr, rules: RPM_RULES };
const DPKG: ClosureOptions = { compareVersions: compareDebianParts, rules: DPKG_RULES };

function label(p: FilterPackage, format: Format): string {
  const v = `${p.version.epoch ? `${p.version.epoch}:` : ""}${p.version.version}${p.version.release ? `-${p.version.release}` : ""}`;
  return format === "rpm" ? `${p.name}-${v}.${p.arch}` : `${p.name}_${v}_${p.arch}`;
}

/** Close over `packages` from the selection `include`; the kept ids and the unsatisfied texts. */
function close(packages: FilterPackage[], include: string[], format: Format, satisfiers?: FilterPackage[], retain = 0) {
  const base = format === "rpm" ? RPM : DPKG;
  const opts: ClosureOptions = { ...base, ...(satisfiers ? { satisfiers } : {}) };
  const selected = selectPackages(packages, FilterSchema.parse({ include, retain_versions: retain }), opts);
  const plan = closeDependencies(packages, selected, opts);
  expect(plan.keptCount).toBe(plan.kept.filter(Boolean).length);
  expect(plan.addedByDependencies).toBe(plan.kept.filter((k) => k === "dependency").length);
  return {
    kept: packages.flatMap((p, i) => (plan.kept[i] ? [label(p, format)] : [])),
    added: packages.flatMap((p, i) => (plan.kept[i] === "dependency" ? [label(p, format)] : [])),
    unsatisfied: plan.unsatisfied.map((u) => `${label(packages[u.neededBy]!, format)} needs ${u.requirement.text}`),
  };
}

interface Case {
  name: string;
  format: Format;
  packages: FilterPackage[];
  include: string[];
  added: string[];
  unsatisfied?: string[];
  satisfiers?: FilterPackage[];
  retain?: number;
}

const rpm = (id: string, spec?: Spec) => pkg(id, spec, "rpm");
const deb = (id: string, spec?: Spec) => pkg(id, spec, "dpkg");

const cases: Case[] = [
  {
    name: "rpm: a package's own name provides itself at its own EVR",
    format: "rpm",
    packages: [rpm("app-1.0-1.x86_64", { requires: ["lib >= 2.0-1"] }), rpm("lib-1.0-1.x86_64"), rpm("lib-2.1-1.x86_64")],
    include: ["app"],
    added: ["lib-2.1-1.x86_64"],
  },
  {
    name: "rpm: own name with an epoch (1:0.5 > 2.0)",
    format: "rpm",
    packages: [rpm("app-1.0-1.x86_64", { requires: ["lib >= 1:0.1"] }), rpm("lib-2.0-1.x86_64"), rpm("lib-1:0.5-1.x86_64")],
    include: ["app"],
    added: ["lib-1:0.5-1.x86_64"],
  },
  {
    name: "rpm: an unversioned provide satisfies a versioned require",
    format: "rpm",
    packages: [rpm("app-1.0-1.x86_64", { requires: ["virt >= 5"] }), rpm("impl-1.0-1.x86_64", { provides: ["virt"] })],
    include: ["app"],
    added: ["impl-1.0-1.x86_64"],
  },
  {
    name: "dpkg: an unversioned Provides does not satisfy a versioned Depends",
    format: "dpkg",
    packages: [deb("app_1.0-1_amd64", { requires: ["virt (>= 5)"] }), deb("impl_1.0-1_amd64", { provides: ["virt"] })],
    include: ["app"],
    added: [],
    unsatisfied: ["app_1.0-1_amd64 needs virt (>= 5)"],
  },
  {
    name: "dpkg: an unversioned Provides satisfies an unversioned Depends",
    format: "dpkg",
    packages: [deb("app_1.0-1_amd64", { requires: ["virt"] }), deb("impl_1.0-1_amd64", { provides: ["virt"] })],
    include: ["app"],
    added: ["impl_1.0-1_amd64"],
  },
  {
    name: "dpkg: a versioned Provides (= 6) satisfies (>= 5)",
    format: "dpkg",
    packages: [deb("app_1.0-1_amd64", { requires: ["virt (>= 5)"] }), deb("impl_1.0-1_amd64", { provides: ["virt (= 6)"] })],
    include: ["app"],
    added: ["impl_1.0-1_amd64"],
  },
  {
    name: "dpkg: the empty revision is compared (1.0 << 1.0-1), so (= 1.0) is not 1.0-1",
    format: "dpkg",
    packages: [deb("app_1.0-1_amd64", { requires: ["lib (= 1.0)"] }), deb("lib_1.0-1_amd64")],
    include: ["app"],
    added: [],
    unsatisfied: ["app_1.0-1_amd64 needs lib (= 1.0)"],
  },
  {
    name: "rpm: a require without release matches every release (lib = 1.0 takes 1.0-7)",
    format: "rpm",
    packages: [rpm("app-1.0-1.x86_64", { requires: ["lib = 1.0"] }), rpm("lib-1.0-7.x86_64"), rpm("lib-1.1-1.x86_64")],
    include: ["app"],
    added: ["lib-1.0-7.x86_64"],
  },
  {
    name: "rpm: ranges overlap (Requires foo >= 2 by Provides foo = 3; foo < 2 not by it)",
    format: "rpm",
    packages: [
      rpm("a-1-1.x86_64", { requires: ["foo >= 2"] }),
      rpm("b-1-1.x86_64", { requires: ["foo < 2"] }),
      rpm("p3-1-1.x86_64", { provides: ["foo = 3"] }),
      rpm("p1-1-1.x86_64", { provides: ["foo = 1"] }),
    ],
    include: ["a", "b"],
    added: ["p3-1-1.x86_64", "p1-1-1.x86_64"],
  },
  {
    name: "rpm: an upper bound keeps the newest that fits",
    format: "rpm",
    packages: [rpm("app-1-1.x86_64", { requires: ["lib < 3"] }), rpm("lib-2-1.x86_64"), rpm("lib-2.5-1.x86_64"), rpm("lib-3-1.x86_64")],
    include: ["app"],
    added: ["lib-2.5-1.x86_64"],
  },
  {
    name: "newest version among providers of the same arch tier",
    format: "rpm",
    packages: [rpm("app-1-1.x86_64", { requires: ["lib"] }), rpm("lib-1-1.x86_64"), rpm("lib-3-1.x86_64"), rpm("lib-2-1.x86_64")],
    include: ["app"],
    added: ["lib-3-1.x86_64"],
  },
  {
    name: "arch preference: the requirer's arch over a newer other arch, then noarch",
    format: "rpm",
    packages: [
      rpm("app-1-1.x86_64", { requires: ["lib", "data"] }),
      rpm("lib-9-1.i686"),
      rpm("lib-1-1.x86_64"),
      rpm("lib-5-1.noarch"),
      rpm("data-2-1.i686"),
      rpm("data-1-1.noarch"),
    ],
    include: ["app"],
    added: ["lib-1-1.x86_64", "data-1-1.noarch"],
  },
  {
    name: "dpkg: arch preference uses all like noarch",
    format: "dpkg",
    packages: [deb("app_1_amd64", { requires: ["data"] }), deb("data_2_i386"), deb("data_1_all")],
    include: ["app"],
    added: ["data_1_all"],
  },
  {
    name: "the real package before a virtual provider of its name",
    format: "dpkg",
    packages: [deb("app_1_amd64", { requires: ["mta"] }), deb("exim_9_amd64", { provides: ["mta"] }), deb("mta_1_amd64")],
    include: ["app"],
    added: ["mta_1_amd64"],
  },
  {
    name: "alternatives: the first already satisfied wins (b kept, a not added)",
    format: "dpkg",
    packages: [deb("app_1_amd64", { requires: ["a | b"] }), deb("a_1_amd64"), deb("b_1_amd64")],
    include: ["app", "b"],
    added: [],
  },
  {
    name: "alternatives: else the first that has a provider",
    format: "dpkg",
    packages: [deb("app_1_amd64", { requires: ["missing | b | c"] }), deb("c_1_amd64"), deb("b_1_amd64")],
    include: ["app"],
    added: ["b_1_amd64"],
  },
  {
    name: "alternatives: a versioned alternative that no version fits falls through",
    format: "dpkg",
    packages: [deb("app_1_amd64", { requires: ["a (>= 2) | b"] }), deb("a_1_amd64"), deb("b_1_amd64")],
    include: ["app"],
    added: ["b_1_amd64"],
  },
  {
    name: "transitive: a chain is followed to its end",
    format: "rpm",
    packages: [
      rpm("a-1-1.x86_64", { requires: ["b"] }),
      rpm("b-1-1.x86_64", { requires: ["c"] }),
      rpm("c-1-1.x86_64", { requires: ["d"] }),
      rpm("d-1-1.x86_64"),
      rpm("e-1-1.x86_64"),
    ],
    include: ["a"],
    added: ["b-1-1.x86_64", "c-1-1.x86_64", "d-1-1.x86_64"],
  },
  {
    name: "cycles end",
    format: "rpm",
    packages: [rpm("a-1-1.x86_64", { requires: ["b"] }), rpm("b-1-1.x86_64", { requires: ["a"] })],
    include: ["a"],
    added: ["b-1-1.x86_64"],
  },
  {
    name: "self-requirements are satisfied by the package itself",
    format: "rpm",
    packages: [
      rpm("a-1-1.x86_64", { requires: ["a = 1-1", "a(x86-64)", "/usr/bin/a"], provides: ["a(x86-64)"], files: ["/usr/bin/a"] }),
      rpm("a-0.9-1.x86_64"),
    ],
    include: ["a"],
    added: [],
  },
  {
    name: "rpmlib() requirements are rpm's own",
    format: "rpm",
    packages: [rpm("a-1-1.x86_64", { requires: ["rpmlib(PayloadIsZstd) <= 5.4.18-1", "rpmlib(CompressedFileNames)"] })],
    include: ["a"],
    added: [],
  },
  {
    name: "file requirements: by files, and by a provide of the path",
    format: "rpm",
    packages: [
      rpm("a-1-1.x86_64", { requires: ["/bin/sh", "/usr/sbin/sendmail"] }),
      rpm("bash-5-1.x86_64", { files: ["/usr/bin/bash", "/bin/sh"] }),
      rpm("postfix-3-1.x86_64", { provides: ["/usr/sbin/sendmail"] }),
      rpm("other-1-1.x86_64", { files: ["/usr/bin/other"] }),
    ],
    include: ["a"],
    added: ["bash-5-1.x86_64", "postfix-3-1.x86_64"],
  },
  {
    name: "dpkg arch qualifiers: foo:any and foo:native match foo",
    format: "dpkg",
    packages: [deb("app_1_amd64", { requires: ["python3:any (>= 3.9)", "perl:native"] }), deb("python3_3.11-1_amd64"), deb("perl_5.36-1_amd64")],
    include: ["app"],
    added: ["python3_3.11-1_amd64", "perl_5.36-1_amd64"],
  },
  {
    name: "rpm names are not stripped of a :any suffix",
    format: "rpm",
    packages: [rpm("app-1-1.x86_64", { requires: ["foo:any"] }), rpm("foo-1-1.x86_64")],
    include: ["app"],
    added: [],
    unsatisfied: ["app-1-1.x86_64 needs foo:any"],
  },
  {
    name: "satisfiers satisfy and are never added; what they lack comes from upstream",
    format: "rpm",
    packages: [rpm("app-1-1.x86_64", { requires: ["glibc >= 2.34", "libx"] }), rpm("glibc-2.40-1.x86_64"), rpm("libx-1-1.x86_64")],
    satisfiers: [rpm("glibc-2.34-100.x86_64")],
    include: ["app"],
    added: ["libx-1-1.x86_64"],
  },
  {
    name: "a satisfier too old does not satisfy: upstream's comes in",
    format: "rpm",
    packages: [rpm("app-1-1.x86_64", { requires: ["glibc >= 2.39"] }), rpm("glibc-2.40-1.x86_64")],
    satisfiers: [rpm("glibc-2.34-100.x86_64")],
    include: ["app"],
    added: ["glibc-2.40-1.x86_64"],
  },
  {
    name: "retention: a retained version that satisfies is enough",
    format: "rpm",
    packages: [rpm("app-1-1.x86_64", { requires: ["lib >= 1"] }), rpm("lib-1-1.x86_64"), rpm("lib-2-1.x86_64")],
    include: ["app", "lib"],
    retain: 1,
    added: [],
  },
  {
    name: "retention: a dropped version comes back only when no retained one satisfies",
    format: "rpm",
    packages: [rpm("app-1-1.x86_64", { requires: ["lib < 2"] }), rpm("lib-1-1.x86_64"), rpm("lib-2-1.x86_64")],
    include: ["app", "lib"],
    retain: 1,
    added: ["lib-1-1.x86_64"],
  },
  {
    name: "unsatisfied requirements are reported with who needs them, the rest still closes",
    format: "rpm",
    packages: [rpm("app-1-1.x86_64", { requires: ["nowhere >= 1", "lib"] }), rpm("lib-1-1.x86_64", { requires: ["gone"] })],
    include: ["app"],
    added: ["lib-1-1.x86_64"],
    unsatisfied: ["app-1-1.x86_64 needs nowhere >= 1", "lib-1-1.x86_64 needs gone"],
  },
  {
    name: "approximate (rich) requirements pull in every named capability that has a provider, and are never unsatisfied",
    format: "rpm",
    packages: [
      rpm("app-1-1.x86_64", {
        rich: [
          { text: "(foo >= 2 or bar)", approximate: true, alternatives: [cap("foo >= 2", "rpm"), cap("bar", "rpm")] },
          { text: "(langpack if nothing)", approximate: true, alternatives: [cap("langpack", "rpm"), cap("nothing", "rpm")] },
        ],
      }),
      rpm("foo-1-1.x86_64"),
      rpm("foo-2-1.x86_64"),
      rpm("bar-1-1.x86_64"),
      rpm("langpack-1-1.noarch"),
    ],
    include: ["app"],
    added: ["foo-2-1.x86_64", "bar-1-1.x86_64", "langpack-1-1.noarch"],
  },
  {
    name: "source packages pull nothing in and provide nothing",
    format: "rpm",
    packages: [rpm("app-1-1.src", { requires: ["gcc"] }), rpm("gcc-1-1.x86_64"), rpm("bin-1-1.x86_64", { requires: ["app"] })],
    include: ["app", "bin"],
    added: [],
    unsatisfied: ["bin-1-1.x86_64 needs app"],
  },
];

describe("closeDependencies", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const out = close(c.packages, c.include, c.format, c.satisfiers, c.retain ?? 0);
    expect(out.added.sort()).toEqual([...c.added].sort());
    expect(out.unsatisfied).toEqual(c.unsatisfied ?? []);
  });

  it("closes a 50,000-package chain and a tree with 20 requirements each, correctly", () => {
    const n = 50_000;
    const packages: FilterPackage[] = [];
    for (let i = 0; i < n; i++) {
      // Package i needs i+1 (the chain) and 19 of the packages 2i+1, 2i+2 ... by a virtual name or a file (the tree).
      const requires: Requirement[] = [];
      if (i + 1 < n) requires.push({ text: `p${i + 1}`, alternatives: [{ name: `p${i + 1}` }] });
      for (let k = 1; k <= 19; k++) {
        const j = (i * 7 + k * 13) % n;
        requires.push(
          k % 3 === 0
            ? { text: `/usr/lib/p${j}.so`, alternatives: [{ name: `/usr/lib/p${j}.so` }] }
            : { text: `cap${j} >= 1`, alternatives: [{ name: `cap${j}`, op: ">=", version: { epoch: 0, version: "1", release: "" } }] },
        );
      }
      packages.push({
        name: `p${i}`,
        arch: "x86_64",
        version: { epoch: 0, version: "1", release: "1" },
        source: false,
        provides: [{ name: `cap${i}`, op: "=", version: { epoch: 0, version: "1", release: "1" } }],
        requires,
        files: [`/usr/lib/p${i}.so`, `/usr/share/doc/p${i}/README`],
      });
    }
    // One unreachable package: the closure must not add it.
    packages.push({ name: "island", arch: "x86_64", version: { epoch: 0, version: "1", release: "1" }, source: false });
    const selected = selectPackages(packages, FilterSchema.parse({ include: ["p0"] }), RPM);
    const plan = closeDependencies(packages, selected, RPM);
    expect(plan.keptCount).toBe(n);
    expect(plan.addedByDependencies).toBe(n - 1);
    expect(plan.kept[n]).toBeUndefined();
    expect(plan.unsatisfied).toEqual([]);
  });
});

describe("closeDependencies: filter.architectures as a preference", () => {
  it("a noarch package's dependency comes in the filter's architecture, not another of the same version", () => {
    const packages = [rpm("tool-1-1.noarch", { requires: ["libfoo"] }), rpm("libfoo-1-1.i686"), rpm("libfoo-1-1.x86_64")];
    const selected = selectPackages(packages, FilterSchema.parse({ include: ["tool"] }), RPM);
    const without = closeDependencies(packages, selected, RPM);
    expect(without.kept).toEqual(["selected", "dependency", undefined]);
    const withPreference = closeDependencies(packages, selected, { ...RPM, preferredArches: ["x86_64"] });
    expect(withPreference.kept).toEqual(["selected", undefined, "dependency"]);
  });

  it("planFilter passes filter.architectures", () => {
    const packages = [rpm("tool-1-1.noarch", { requires: ["libfoo"] }), rpm("libfoo-1-1.i686"), rpm("libfoo-1-1.x86_64")];
    const plan = planFilter(packages, FilterSchema.parse({ include: ["tool"], architectures: ["x86_64", "noarch"], with_dependencies: true }), {
      compareVersions: compareEvr,
      dependencyRules: RPM_RULES,
      repoId: "r",
    });
    expect(plan.kept).toEqual(["selected", undefined, "dependency"]);
  });
});

describe("planFilter with_dependencies", () => {
  const packages = [rpm("app-1-1.x86_64", { requires: ["lib"] }), rpm("lib-1-1.x86_64"), rpm("other-1-1.x86_64")];
  const ctx = { compareVersions: compareEvr, dependencyRules: RPM_RULES, repoId: "base" };

  it("adds the dependencies to the selection", () => {
    const plan = planFilter(packages, FilterSchema.parse({ include: ["app"], with_dependencies: true }), ctx);
    expect(plan.kept).toEqual(["selected", "dependency", undefined]);
    expect(plan.keptCount).toBe(2);
    expect(plan.addedByDependencies).toBe(1);
  });

  it("without with_dependencies, selects only", () => {
    const plan = planFilter(packages, FilterSchema.parse({ include: ["app"] }), ctx);
    expect(plan.kept).toEqual(["selected", undefined, undefined]);
  });

  it("returns unsatisfied dependencies instead of throwing", () => {
    const plan = planFilter([rpm("app-1-1.x86_64", { requires: ["gone"] })], FilterSchema.parse({ include: ["app"], with_dependencies: true }), ctx);
    expect(plan.unsatisfied.map((u) => u.requirement.text)).toEqual(["gone"]);
  });
});

describe("unsatisfiedMessage", () => {
  it("lists the first 20 as `<nevra> needs <requirement>` and counts the rest", () => {
    const requires = Array.from({ length: 23 }, (_, i) => `gone${i} >= 1`);
    const packages = [rpm("app-1:2.0-3.x86_64", { requires })];
    const plan = closeDependencies(packages, selectPackages(packages, FilterSchema.parse({}), RPM), RPM);
    const text = unsatisfiedMessage(plan, packages, "base");
    expect(text).toContain("repository base: 23 dependencies");
    expect(text).toContain("\n  app-1:2.0-3.x86_64 needs gone0 >= 1\n");
    expect(text).toContain("app-1:2.0-3.x86_64 needs gone19 >= 1");
    expect(text).not.toContain("gone20");
    expect(text).toContain("... and 3 more");
    expect(text).toContain("filter.dependency_repositories");
  });

  it("names one dependency in the singular", () => {
    const packages = [rpm("app-1-1.x86_64", { requires: ["gone"] })];
    const plan = closeDependencies(packages, selectPackages(packages, FilterSchema.parse({}), RPM), RPM);
    expect(unsatisfiedMessage(plan, packages, "base")).toMatch(/^repository base: 1 dependency of the kept packages is provided by no package/);
    expect(unsatisfiedMessage(plan, packages, "base")).not.toContain("more");
  });
});

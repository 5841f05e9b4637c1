// The supported Node lines (22 and 24 LTS) are what package.json, the Dockerfile and CI say.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

describe("supported Node.js", () => {
  it("package.json engines admits 22 and 24, not the end-of-life 20", () => {
    const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
    expect(engines).toBe(">=22");
  });

  it("every Dockerfile stage is built on node:24-slim, the default of its BASE_IMAGE argument", () => {
    const dockerfile = read("Dockerfile");
    const args = new Map([...dockerfile.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1], m[2]] as const));
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) =>
      (m[1] ?? "").replace(/^\$\{(\w+)\}$/, (_, name: string) => args.get(name) ?? `unset ${name}`),
    );
    expect(bases.length).toBeGreaterThan(0);
    expect(new Set(bases)).toEqual(new Set(["node:24-slim"]));
  });

  it("CI runs the suite with Node 24 first on PATH, and the unit tests with Node 22", () => {
    const ci = read(".ci/run");
    expect(ci).toMatch(/npm install --prefix "\$dir" .*"node@\$1"/);
    expect(ci).toMatch(/^node24=\$\(node_line 24\)$/m);
    expect(ci).toMatch(/^node22=\$\(node_line 22\)$/m);
    expect(ci).toMatch(/^PATH="\$node24:\$PATH" npm test$/m);
    expect(ci).toMatch(/^PATH="\$node22:\$PATH" npx vitest run test\/unit$/m);
  });
});

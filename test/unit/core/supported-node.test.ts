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

  it("every Dockerfile stage is built on node:24-slim", () => {
    const bases = [...read("Dockerfile").matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThan(0);
    expect(new Set(bases)).toEqual(new Set(["node:24-slim"]));
  });

  it("CI runs the suite a second time with Node 24 first on PATH", () => {
    const ci = read(".ci/run");
    expect(ci).toMatch(/npm install --prefix "\$node24" .*node@24/);
    expect(ci).toMatch(/^PATH="\$node24\/node_modules\/node\/bin:\$PATH" npm test$/m);
  });
});

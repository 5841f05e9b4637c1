// Tests of importState (core/db/imports.ts): what `import list` shows for a row, given who holds the import lock.
import { describe, expect, it } from "vitest";
import { importState, type ImportState } from "../../../core/db/imports.js";

const holder = { host: "h1", pid: 10 };

describe("importState", () => {
  const cases: [
    string,
    { status: "running" | "complete"; host: string | null; pid: number | null },
    { host: string | null; pid: number | null }[],
    ImportState,
  ][] = [
    ["complete stays complete, whoever holds the lock", { status: "complete", host: "h1", pid: 99 }, [], "complete"],
    ["running, its process holds the lock", { status: "running", host: "h1", pid: 10 }, [holder], "running"],
    ["running, nobody holds the lock: killed", { status: "running", host: "h1", pid: 10 }, [], "interrupted"],
    ["running, another import holds the lock", { status: "running", host: "h1", pid: 11 }, [holder], "interrupted"],
    ["running, the same pid on another host", { status: "running", host: "h2", pid: 10 }, [holder], "interrupted"],
    ["running, recorded before hosts were (0010)", { status: "running", host: null, pid: null }, [{ host: null, pid: null }], "interrupted"],
  ];
  it.each(cases)("%s", (_why, row, holders, expected) => {
    expect(importState(row, holders)).toBe(expected);
  });
});

// freeSpaceProblem and isNoSpace: when a sync's downloads do not fit, and how ENOSPC is recognised through causes.
import { describe, expect, it } from "vitest";
import { freeSpaceProblem, isNoSpace } from "../../../core/mirror/free-space.js";

const MIB = 1024 * 1024;

describe("freeSpaceProblem", () => {
  const cases: { title: string; needed: number; free: number; reserve: number; problem: RegExp | undefined }[] = [
    { title: "nothing to download always fits", needed: 0, free: 0, reserve: 10 * MIB, problem: undefined },
    { title: "fits with room to spare", needed: 1 * MIB, free: 100 * MIB, reserve: 10 * MIB, problem: undefined },
    { title: "exactly fits with the reserve", needed: 90 * MIB, free: 100 * MIB, reserve: 10 * MIB, problem: undefined },
    {
      title: "one byte over because of the reserve",
      needed: 90 * MIB + 1,
      free: 100 * MIB,
      reserve: 10 * MIB,
      problem: /downloads 90\.0 MiB, the filesystem has 100\.0 MiB free and storage.free_space_reserve_mb keeps 10\.0 MiB of it: free 0\.0 MiB/,
    },
    {
      title: "no reserve: the message does not name it",
      needed: 5 * MIB,
      free: 2 * MIB,
      reserve: 0,
      problem: /^not enough free space in \/p: this sync downloads 5\.0 MiB, the filesystem has 2\.0 MiB free: free 3\.0 MiB/,
    },
  ];
  for (const c of cases)
    it(c.title, () => {
      const p = freeSpaceProblem(c.needed, c.free, c.reserve, "/p");
      if (c.problem === undefined) expect(p).toBeUndefined();
      else expect(p).toMatch(c.problem);
    });
});

describe("isNoSpace", () => {
  const enospc = Object.assign(new Error("write"), { code: "ENOSPC" });
  it("finds ENOSPC itself and below causes", () => {
    expect(isNoSpace(enospc)).toBe(true);
    expect(isNoSpace(new Error("wrapped", { cause: new Error("again", { cause: enospc }) }))).toBe(true);
  });
  it("is false for other errors", () => {
    expect(isNoSpace(Object.assign(new Error("x"), { code: "EIO" }))).toBe(false);
    expect(isNoSpace(undefined)).toBe(false);
  });
});

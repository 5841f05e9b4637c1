// Tests of core/mirror/location.ts.
import { describe, expect, it } from "vitest";
import { findPathConflict, safeLocation, UnsafePathError } from "../../../core/mirror/location.js";
import { ChantalError } from "../../../core/errors.js";

describe("safeLocation accepts paths inside the repository", () => {
  const ok: [string, string | undefined, string][] = [
    ["Packages/a/alpha-1.0-1.noarch.rpm", undefined, "Packages/a/alpha-1.0-1.noarch.rpm"],
    ["alpha-1.0-1.noarch.rpm", undefined, "alpha-1.0-1.noarch.rpm"],
    ["repodata/abc-primary.xml.gz", undefined, "repodata/abc-primary.xml.gz"],
    ["./Packages/a.rpm", undefined, "Packages/a.rpm"],
    ["Packages//a.rpm", undefined, "Packages/a.rpm"],
    ["Packages/./a.rpm", undefined, "Packages/a.rpm"],
    ["Packages/x/../a.rpm", undefined, "Packages/a.rpm"],
    ["sub/dir/beta-2.0~rc1-3.el9.noarch.rpm", undefined, "sub/dir/beta-2.0~rc1-3.el9.noarch.rpm"],
    ["Packages/l/libstdc++-11.4.1-2.el9.x86_64.rpm", undefined, "Packages/l/libstdc++-11.4.1-2.el9.x86_64.rpm"],
    ["pool/main/f/foo/foo_1.0-1_amd64.deb", undefined, "pool/main/f/foo/foo_1.0-1_amd64.deb"],
    // a colon after the first segment is a file name character, not a scheme
    ["Packages/foo-1:2.rpm", undefined, "Packages/foo-1:2.rpm"],
    ["..foo/a.rpm", undefined, "..foo/a.rpm"],
    ["a/...rpm", undefined, "a/...rpm"],
    ["Packages/%2B.rpm", undefined, "Packages/%2B.rpm"],
    // relative xml:base
    ["a.rpm", "other/", "other/a.rpm"],
    ["a.rpm", "other", "other/a.rpm"],
    ["a.rpm", "", "a.rpm"],
    ["../a.rpm", "sub/dir/", "sub/a.rpm"],
  ];
  it.each(ok)("safeLocation(%j, %j) = %j", (href, base, expected) => {
    expect(safeLocation(href, base)).toBe(expected);
  });

  it("accepts an absolute xml:base that is the repository's own URL", () => {
    expect(safeLocation("a.rpm", "http://mirror.test/repo/", { repoUrl: "http://mirror.test/repo" })).toBe("a.rpm");
    expect(safeLocation("a.rpm", "http://mirror.test/repo/extra/", { repoUrl: "http://mirror.test/repo/" })).toBe("extra/a.rpm");
    expect(safeLocation("a.rpm", "http://mirror.test/repo", { repoUrl: "http://mirror.test/repo/" })).toBe("a.rpm");
  });
});

describe("safeLocation refuses anything that could leave the repository", () => {
  const bad: [string, string | undefined, RegExp][] = [
    ["../a.rpm", undefined, /climbs out/],
    ["Packages/../../a.rpm", undefined, /climbs out/],
    ["..", undefined, /climbs out/],
    ["a/b/../../../etc/passwd", undefined, /climbs out/],
    ["/etc/passwd", undefined, /absolute path/],
    ["/Packages/a.rpm", undefined, /absolute path/],
    ["//evil.test/a.rpm", undefined, /another host/],
    ["http://evil.test/a.rpm", undefined, /URL/],
    ["HTTPS://evil.test/a.rpm", undefined, /URL/],
    ["file:///etc/passwd", undefined, /URL/],
    ["ftp:a.rpm", undefined, /URL/],
    ["C:/Windows/a.rpm", undefined, /URL/],
    ["Packages\\a.rpm", undefined, /backslash/],
    ["..\\..\\a.rpm", undefined, /backslash/],
    ["Packages/a.rpm\u0000.txt", undefined, /control character/],
    ["Packages/a\n.rpm", undefined, /control character/],
    ["%2e%2e/a.rpm", undefined, /percent-encoded '\.\.'/],
    ["Packages/%2E%2E/%2e%2e/a.rpm", undefined, /percent-encoded '\.\.'/],
    [".%2e/a.rpm", undefined, /percent-encoded '\.\.'/],
    ["Packages%2f..%2f..%2fa.rpm", undefined, /percent-encoded slash/],
    ["a%5c..%5ca.rpm", undefined, /percent-encoded slash, backslash/],
    ["a%00.rpm", undefined, /percent-encoded slash, backslash or NUL/],
    ["", undefined, /empty/],
    ["Packages/", undefined, /directory/],
    [".", undefined, /repository root/],
    ["a/..", undefined, /repository root/],
    // xml:base
    ["a.rpm", "http://other.test/repo/", /xml:base points outside/],
    ["a.rpm", "//other.test/repo/", /xml:base points outside/],
    ["a.rpm", "../", /climbs out/],
    ["a.rpm", "/srv/repo/", /absolute path/],
    ["a.rpm", "sub\\", /backslash/],
  ];
  it.each(bad)("safeLocation(%j, %j) throws %s", (href, base, reason) => {
    let caught: unknown;
    try {
      safeLocation(href, base);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnsafePathError);
    expect(caught).toBeInstanceOf(ChantalError);
    const err = caught as UnsafePathError;
    expect(err.reason).toMatch(reason);
    // The message names the href (JSON-quoted, so control characters stay visible) and, if any, the base.
    expect(err.message).toContain(JSON.stringify(href));
    if (base) expect(err.message).toContain(JSON.stringify(base));
    expect(err.href).toBe(href);
  });

  it("refuses an absolute xml:base on another host even when a repository URL is known", () => {
    expect(() => safeLocation("a.rpm", "http://other.test/repo/", { repoUrl: "http://mirror.test/repo/" })).toThrow(UnsafePathError);
    expect(() => safeLocation("a.rpm", "http://mirror.test/repository/", { repoUrl: "http://mirror.test/repo" })).toThrow(UnsafePathError);
    expect(() => safeLocation("a.rpm", "http://mirror.test/repo/../", { repoUrl: "http://mirror.test/repo/" })).toThrow(/climbs out/);
  });
});

describe("findPathConflict: files that cannot share one published tree", () => {
  const entry = (path: string, sha = "x") => ({ path, sha });
  it.each([
    ["distinct files in distinct directories", ["repodata/repomd.xml", "Packages/a.rpm", "Packages/b/c.rpm"], undefined],
    [
      "a package at a metadata path",
      ["repodata/repomd.xml", "Packages/a.rpm", "repodata/repomd.xml"],
      { kind: "same path", first: "repodata/repomd.xml", second: "repodata/repomd.xml" },
    ],
    ["a file where another needs a directory", ["a/b.rpm", "a"], { kind: "file is a directory", first: "a", second: "a/b.rpm" }],
    ["a file that is a grandparent directory", ["x/y/z/p.rpm", "x/y"], { kind: "file is a directory", first: "x/y", second: "x/y/z/p.rpm" }],
    [
      "a package named like the metadata directory",
      ["repodata/repomd.xml", "repodata"],
      { kind: "file is a directory", first: "repodata", second: "repodata/repomd.xml" },
    ],
    ["a common prefix that is no directory", ["ab/c.rpm", "a", "a.rpm"], undefined],
  ])("%s", (_what, paths, expected) => {
    const conflict = findPathConflict(
      paths.map((p) => entry(p)),
      (e) => e.path,
    );
    expect(conflict ? { kind: conflict.kind, first: conflict.first.path, second: conflict.second.path } : undefined).toEqual(expected);
  });

  it("lets one file listed twice through when the caller says it is the same file", () => {
    const same = (a: { sha: string }, b: { sha: string }) => a.sha === b.sha;
    expect(findPathConflict([entry("dists/x/by-hash/SHA256/h", "1"), entry("dists/x/by-hash/SHA256/h", "1")], (e) => e.path, same)).toBeUndefined();
    expect(findPathConflict([entry("p", "1"), entry("p", "2")], (e) => e.path, same)?.kind).toBe("same path");
  });
});

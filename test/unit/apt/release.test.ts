// Tests of core/apt/release.ts.
import { formatLocalTimeWithZone } from "../../../core/local-time.js";
import { describe, expect, it } from "vitest";
import {
  checkNotInFuture,
  checkNotOlder,
  checkValidUntil,
  parseRelease,
  parseReleaseDate,
  ReleaseNotYetValidError,
  ReleaseRollbackError,
} from "../../../core/apt/release.js";
import { ChantalError } from "../../../core/errors.js";

const H1 = "a".repeat(64);
const H2 = "b".repeat(64);
const H3 = "c".repeat(64);
const S1 = "d".repeat(128);

const RELEASE = `Origin: Debian
Label: Debian
Suite: stable-updates
Codename: bookworm-updates
Date: Sat, 10 Jun 2023 08:48:49 UTC
Valid-Until: Sat, 17 Jun 2023 08:48:49 UTC
Acquire-By-Hash: yes
No-Support-for-Architecture-all: Packages
Architectures: all amd64 arm64
Components: main contrib non-free-firmware non-free
Description: Debian 12 - Updates
MD5Sum:
 0123456789abcdef0123456789abcdef    21 main/binary-amd64/Packages
SHA256:
 ${H1}    21 main/binary-amd64/Packages
 ${H2}   140 main/binary-amd64/Packages.xz
 ${H3.toUpperCase()}  9001 contrib/i18n/Translation-en.bz2
SHA512:
 ${S1}   140 main/binary-amd64/Packages.xz
`;

describe("Release", () => {
  it("parses fields, the SHA256 list (with SHA512 where listed), Acquire-By-Hash and dates", () => {
    const r = parseRelease(RELEASE);
    expect(r).toMatchObject({ suite: "stable-updates", codename: "bookworm-updates", origin: "Debian", label: "Debian", acquireByHash: true });
    expect(r.architectures).toEqual(["all", "amd64", "arm64"]);
    expect(r.components).toEqual(["main", "contrib", "non-free-firmware", "non-free"]);
    expect(r.date?.toISOString()).toBe("2023-06-10T08:48:49.000Z");
    expect(r.validUntil?.toISOString()).toBe("2023-06-17T08:48:49.000Z");
    expect([...r.files.keys()]).toEqual(["main/binary-amd64/Packages", "main/binary-amd64/Packages.xz", "contrib/i18n/Translation-en.bz2"]);
    expect(r.files.get("main/binary-amd64/Packages.xz")).toEqual({ path: "main/binary-amd64/Packages.xz", size: 140, sha256: H2, sha512: S1 });
    expect(r.files.get("contrib/i18n/Translation-en.bz2")).toEqual({ path: "contrib/i18n/Translation-en.bz2", size: 9001, sha256: H3 });
  });

  it("reads Acquire-By-Hash as no when absent, and field names case-insensitively", () => {
    const r = parseRelease(`suite: x\nsha256:\n ${H1} 1 main/binary-amd64/Packages\n`);
    expect(r.acquireByHash).toBe(false);
    expect(r.suite).toBe("x");
  });

  it.each([
    ["no SHA256", "Suite: x\nMD5Sum:\n 0123456789abcdef0123456789abcdef 1 a\n", /lists no SHA256 checksums/],
    ["a short hash", `Suite: x\nSHA256:\n ${"a".repeat(63)} 1 a\n`, /malformed SHA256 line/],
    ["a size that is not a number", `Suite: x\nSHA256:\n ${H1} x a\n`, /malformed SHA256 line/],
    ["a bad Valid-Until", `Valid-Until: tomorrow\nSHA256:\n ${H1} 1 a\n`, /Valid-Until is not a valid date: "tomorrow"/],
    ["a continuation before any field", ` oops\nSHA256:\n ${H1} 1 a\n`, /continuation line before any field/],
    ["an empty file", "\n\n", /is empty/],
    [
      "a field twice (two SHA256 lists)",
      `Suite: x\nSHA256:\n ${H1} 1 a\nsha256:\n ${H2} 1 a\n`,
      /dists\/x\/InRelease line 4: the paragraph at line 1 has the field "sha256" twice/,
    ],
  ])("refuses %s", (_what, text, message) => {
    expect(() => parseRelease(text, "dists/x/InRelease")).toThrow(message);
    expect(() => parseRelease(text)).toThrow(ChantalError);
  });

  it("enforces Valid-Until", () => {
    const r = parseRelease(RELEASE);
    expect(() => checkValidUntil(r, new Date("2023-06-17T08:48:48Z"), "InRelease")).not.toThrow();
    expect(() => checkValidUntil(r, new Date("2023-06-17T08:48:50Z"), "InRelease")).toThrow(
      `InRelease has expired: Valid-Until ${formatLocalTimeWithZone(new Date("2023-06-17T08:48:49Z"))} is in the past`,
    );
    const noLimit = parseRelease(`SHA256:\n ${H1} 1 a\n`);
    expect(() => checkValidUntil(noLimit, new Date("2999-01-01"), "Release")).not.toThrow();
  });

  it.each([
    ["Sat, 10 Jun 2023 08:48:49 UTC", "2023-06-10T08:48:49.000Z"],
    ["Sat, 10 Jun 2023 08:48:49 GMT", "2023-06-10T08:48:49.000Z"],
    ["Thu, 26 Nov 2026 07:00:01 +0000", "2026-11-26T07:00:01.000Z"],
    ["Thu, 26 Nov 2026 09:00:01 +0200", "2026-11-26T07:00:01.000Z"],
    ["Wed, 25 Nov 2026 23:30:01 -0730", "2026-11-26T07:00:01.000Z"],
    ["1 Jan 2024 00:00:00 UTC", "2024-01-01T00:00:00.000Z"],
    ["Mon, 1 Jan 2024 00:00 UTC", "2024-01-01T00:00:00.000Z"],
  ])("parses the date %s", (text, iso) => {
    expect(parseReleaseDate(text)?.toISOString()).toBe(iso);
  });

  it.each(["", "2024-01-01", "Sat, 10 Foo 2023 08:48:49 UTC", "Sat, 10 Jun 2023 25:00:00 UTC", "Sat, 10 Jun 2023 08:48:49 CEST"])(
    "refuses the date %j",
    (text) => {
      expect(parseReleaseDate(text)).toBeUndefined();
    },
  );
});

describe("Release dates against the clock and the last synced Release", () => {
  const dated = (date: string) => parseRelease(`Date: ${date}\nSHA256:\n ${H1} 1 a\n`);
  const NOW = new Date("2023-06-10T08:48:49Z");

  it.each([
    ["the same second", "Sat, 10 Jun 2023 08:48:49 UTC", undefined],
    ["in the past", "Fri, 09 Jun 2023 08:48:49 UTC", undefined],
    ["5 minutes ahead (clock skew)", "Sat, 10 Jun 2023 08:53:49 UTC", undefined],
    [
      "5 minutes and 1 second ahead",
      "Sat, 10 Jun 2023 08:53:50 UTC",
      `InRelease is not valid yet: its Date ${formatLocalTimeWithZone(new Date("2023-06-10T08:53:50Z"))} is 5 minute(s) ahead of this host's clock (${formatLocalTimeWithZone(new Date("2023-06-10T08:48:49Z"))}; 5 minute(s) of clock skew are allowed)`,
    ],
    ["a day ahead", "Sun, 11 Jun 2023 08:48:49 UTC", /is 24 hour\(s\) ahead/],
    ["a year ahead, in another zone", "Mon, 10 Jun 2024 10:48:49 +0200", /is 366 day\(s\) ahead/],
  ])("Date %s of the injected clock", (_what, date, message) => {
    const check = () => checkNotInFuture(dated(date), NOW, "InRelease");
    if (message) {
      expect(check).toThrow(ReleaseNotYetValidError);
      expect(check).toThrow(message);
    } else expect(check).not.toThrow();
  });

  it("a Release without a Date is not checked against the clock", () => {
    expect(() => checkNotInFuture(parseRelease(`SHA256:\n ${H1} 1 a\n`), NOW, "InRelease")).not.toThrow();
  });

  it.each([
    ["newer than the last", "Sun, 11 Jun 2023 08:48:49 UTC", NOW, false, undefined],
    ["the same Date", "Sat, 10 Jun 2023 08:48:49 UTC", NOW, false, undefined],
    ["a first sync (nothing synced before)", "Fri, 09 Jun 2023 08:48:49 UTC", undefined, false, undefined],
    [
      "older than the last",
      "Fri, 09 Jun 2023 08:48:49 UTC",
      NOW,
      false,
      `InRelease of repository r is dated ${formatLocalTimeWithZone(new Date("2023-06-09T08:48:49Z"))}, older than the Release synced last (dated ${formatLocalTimeWithZone(new Date("2023-06-10T08:48:49Z"))}): refusing to go back`,
    ],
    ["one second older", "Sat, 10 Jun 2023 08:48:48 UTC", NOW, false, /older than the Release synced last/],
    ["older, but allowed", "Fri, 09 Jun 2023 08:48:49 UTC", NOW, true, undefined],
  ])("Date %s", (_what, date, previous, allowed, message) => {
    const check = () => checkNotOlder(dated(date), previous, { label: "InRelease of repository r", repoId: "r", allowed });
    if (message) {
      expect(check).toThrow(ReleaseRollbackError);
      expect(check).toThrow(message);
    } else expect(check).not.toThrow();
  });
});

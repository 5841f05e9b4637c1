// closest(): the "did you mean" candidate for typos of keys, repository ids and time zones.
import { describe, expect, it } from "vitest";
import { closest, editDistance } from "../../../core/closest.js";

describe("editDistance", () => {
  it.each([
    ["", "", 0],
    ["abc", "", 3],
    ["kitten", "sitting", 3],
    ["download_concurrency", "download_concurency", 1],
  ])("%s -> %s = %i", (a, b, d) => expect(editDistance(a, b)).toBe(d));
});

describe("closest", () => {
  const ids = ["rhel9-baseos", "rhel9-appstream", "debian12-main"];
  it.each<[readonly string[], string, string | undefined]>([
    [ids, "rhel9-basos", "rhel9-baseos"],
    [ids, "RHEL9-BASEOS", "rhel9-baseos"],
    [ids, "rhel9-appstraem", "rhel9-appstream"],
    [ids, "ubuntu24", undefined],
    [ids, "x", undefined],
    [[], "rhel9", undefined],
    [["download_concurrency", "download_timeout_seconds"], "download_concurency", "download_concurrency"],
    [["Europe/Paris", "Europe/Berlin", "America/New_York"], "Europe/Pari", "Europe/Paris"],
    [["Europe/Paris", "Europe/Berlin", "America/New_York"], "America/NewYork", "America/New_York"],
    [["Europe/Paris", "Europe/Berlin"], "Paris", "Europe/Paris"],
  ])("%j, %s -> %s", (candidates, word, expected) => expect(closest(candidates, word)).toBe(expected));
});

// Which trees the mirror's key signs (the client lines name it) and which are rewritten unsigned: a table of configurations.
import { describe, expect, it } from "vitest";
import { ConfigSchema } from "../../../core/config/schema.js";
import { mirrorKeyOf, rewrittenUnsigned } from "../../../core/publish/mirror-key.js";

const key = (extra: Record<string, unknown> = {}) => ({ key_file: "/k/mirror.asc", ...extra });
const filter = { exclude: ["debug-*"] };

describe("mirrorKeyOf and rewrittenUnsigned", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>, string | undefined, boolean]>([
    ["no signing, no filter: verbatim, the upstream's signatures", {}, {}, undefined, false],
    ["signing, no filter, no resign: verbatim, the key only published", { signing: key() }, {}, undefined, false],
    ["signing with resign: the mirror signs", { signing: key({ resign: true }) }, {}, "chantal-mirror", false],
    ["global signing and a repository filter: the mirror signs", { signing: key() }, { filter }, "chantal-mirror", false],
    [
      "a repository's own signing replaces the global one whole",
      { signing: key({ resign: true }) },
      { signing: key({ public_key_name: "corp" }) },
      undefined,
      false,
    ],
    ["a repository's own signing with a global filter", { filter }, { signing: key({ public_key_name: "corp" }) }, "corp", false],
    ["a filter without signing: rewritten unsigned", { filter }, {}, undefined, true],
    ["an empty filter keeps everything: verbatim", { filter: {} }, {}, undefined, false],
  ])("%s", (_, top, repoExtra, name, unsigned) => {
    const config = ConfigSchema.parse({ ...top, repositories: [{ id: "r1", type: "rpm", upstream_url: "http://u/", ...repoExtra }] });
    const repo = config.repositories[0]!;
    expect(mirrorKeyOf(config, repo)).toEqual(name ? { name } : undefined);
    expect(rewrittenUnsigned(config, repo)).toBe(unsigned);
  });
});

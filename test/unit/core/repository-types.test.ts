// The table of repository types: one entry per type the configuration accepts, and each entry's own behaviour.
import { describe, expect, it } from "vitest";
import { RepositorySchema, type RepositoryConfig } from "../../../core/config/schema.js";
import { REPOSITORY_TYPES, repositoryTypeOf } from "../../../core/repository-types.js";

function repo(type: RepositoryConfig["type"], extra: Partial<RepositoryConfig> = {}): RepositoryConfig {
  return { id: "r1", type, upstream_url: "http://127.0.0.1:1/mirror/", ...extra } as RepositoryConfig;
}

describe("REPOSITORY_TYPES", () => {
  it("has exactly one entry per type the configuration accepts", () => {
    expect(Object.keys(REPOSITORY_TYPES).sort()).toEqual([...RepositorySchema.shape.type.options].sort());
  });

  it("knows no other type (not even an inherited property name)", () => {
    expect(repositoryTypeOf("rpm")).toBe(REPOSITORY_TYPES.rpm);
    expect(repositoryTypeOf("file")).toBeUndefined();
    expect(repositoryTypeOf("toString")).toBeUndefined();
  });

  it("names the file a sync reads first: repomd.xml, or the suite's InRelease (also of a flat repository)", () => {
    expect(REPOSITORY_TYPES.rpm.indexUrl(repo("rpm"))).toBe("http://127.0.0.1:1/mirror/repodata/repomd.xml");
    const apt = (distribution: string) =>
      repo("apt", { apt: { distribution, components: ["main"], architectures: ["amd64"], include_sources: false } as RepositoryConfig["apt"] });
    expect(REPOSITORY_TYPES.apt.indexUrl(apt("bookworm"))).toBe("http://127.0.0.1:1/mirror/dists/bookworm/InRelease");
    expect(REPOSITORY_TYPES.apt.indexUrl(apt("./"))).toBe("http://127.0.0.1:1/mirror/InRelease");
  });

  it("orders versions in the type's own order", () => {
    const v = (version: string, release: string) => ({ epoch: 0, version, release });
    // dpkg sorts "+" before "."; rpm treats both as separators, so the versions are equal.
    expect(REPOSITORY_TYPES.apt.compareVersions(v("1.0+1", "1"), v("1.0.1", "1"))).toBeLessThan(0);
    expect(REPOSITORY_TYPES.rpm.compareVersions(v("1.0+1", "1"), v("1.0.1", "1"))).toBe(0);
    expect(REPOSITORY_TYPES.rpm.compareVersions(v("1.0", "1.el9"), v("1.0", "2.el9"))).toBeLessThan(0);
  });
});

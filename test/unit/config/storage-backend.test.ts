// storage.backend and storage.s3: validation, defaults, merging across files, and which store they select.
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.js";
import { ConfigError } from "../../../core/errors.js";
import { blobStoreOf } from "../../../core/storage/backend.js";
import { isFsyncEnabled } from "../../../core/storage/durable.js";
import { FilesystemBlobStore } from "../../../core/storage/pool.js";
import { S3BlobStore } from "../../../core/storage/s3-blob-store.js";
import { makeConfigDir } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function load(files: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  const dir = makeConfigDir(files);
  dirs.push(dir);
  return { dir, loaded: await loadConfig({ configDir: dir, env }) };
}

async function issuesOf(files: Record<string, string>): Promise<string[]> {
  try {
    await load(files);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split("\n");
    throw err;
  }
  return [];
}

describe("storage.fsync", () => {
  it("false turns the process's flushes off when its store is made; unset (or true) keeps them", async () => {
    const off = await load({ "config.yaml": "storage:\n  base_path: ./data\n  fsync: false\n" });
    blobStoreOf(off.loaded.config);
    expect(isFsyncEnabled()).toBe(false);
    const on = await load({ "config.yaml": "storage:\n  base_path: ./data\n" });
    blobStoreOf(on.loaded.config);
    expect(isFsyncEnabled()).toBe(true);
    expect(await issuesOf({ "config.yaml": "storage:\n  fsync: 0\n" })).toEqual([expect.stringMatching(/storage\.fsync/)]);
  });
});

describe("storage.backend", () => {
  it("defaults to the filesystem, with the temp dir inside the pool as before", async () => {
    const { dir, loaded } = await load({ "config.yaml": "storage:\n  base_path: ./data\n" });
    expect(loaded.config.storage).toEqual({
      base_path: `${dir}/data`,
      pool_path: `${dir}/data/pool`,
      published_path: `${dir}/data/published`,
      temp_path: `${dir}/data/pool/.tmp`,
    });
    const store = blobStoreOf(loaded.config);
    expect(store).toBeInstanceOf(FilesystemBlobStore);
    expect(store.location).toBe(`${dir}/data/pool`);
  });

  it("s3: bucket with defaults, temp downloads in <base_path>/tmp, prefix without slashes", async () => {
    const { dir, loaded } = await load({
      "config.yaml": "storage:\n  base_path: ./data\n  backend: s3\n  s3:\n    bucket: my-mirror\n    prefix: /chantal/prod/\n",
    });
    expect(loaded.config.storage.backend).toBe("s3");
    expect(loaded.config.storage.s3).toEqual({ bucket: "my-mirror", prefix: "chantal/prod", force_path_style: false });
    expect(loaded.config.storage.temp_path).toBe(`${dir}/data/tmp`);
    const store = blobStoreOf(loaded.config);
    expect(store).toBeInstanceOf(S3BlobStore);
    expect(store.location).toBe("s3://my-mirror/chantal/prod/pool/");
    expect(store.locationOf("AB" + "0".repeat(62))).toBe(`s3://my-mirror/chantal/prod/pool/ab/00/ab${"0".repeat(62)}`);
    // one store (one client and connection pool) per loaded configuration
    expect(blobStoreOf(loaded.config)).toBe(store);
  });

  it("keeps an explicit temp_path with s3", async () => {
    const { loaded } = await load({ "config.yaml": "storage:\n  base_path: /srv/c\n  temp_path: /scratch/chantal\n  backend: s3\n  s3:\n    bucket: b-1\n" });
    expect(loaded.config.storage.temp_path).toBe("/scratch/chantal");
  });

  it("takes backend and bucket from different files, and a later storage block does not reset the backend", async () => {
    const { loaded } = await load(
      {
        "config.yaml": "storage:\n  base_path: /srv/c\n  backend: s3\n",
        "conf.d/10-bucket.yaml":
          "storage:\n  s3:\n    bucket: ${POOL_BUCKET}\n    region: eu-west-1\n    endpoint: http://127.0.0.1:9000\n    force_path_style: true\n",
        "conf.d/20-paths.yaml": "storage:\n  temp_path: /scratch\n",
      },
      { POOL_BUCKET: "pool-bucket" },
    );
    expect(loaded.config.storage.backend).toBe("s3");
    expect(loaded.config.storage.s3).toEqual({
      bucket: "pool-bucket",
      prefix: "",
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:9000",
      force_path_style: true,
    });
    expect(loaded.config.storage.base_path).toBe("/srv/c");
    expect(loaded.config.storage.temp_path).toBe("/scratch");
  });

  it("a later file's storage block does not reset base_path to its default", async () => {
    const { loaded } = await load({ "config.yaml": "storage:\n  base_path: /srv/c\n", "conf.d/10.yaml": "storage:\n  published_path: /www\n" });
    expect(loaded.config.storage).toEqual({ base_path: "/srv/c", pool_path: "/srv/c/pool", published_path: "/www", temp_path: "/srv/c/pool/.tmp" });
    const defaults = await load({ "config.yaml": "repositories: []\n" });
    expect(defaults.loaded.config.storage.base_path).toBe("/var/lib/chantal");
  });

  it.each([
    ["storage:\n  backend: s3\n", "config.yaml: storage.s3.bucket: storage.backend s3 needs storage.s3.bucket"],
    ["storage:\n  backend: gcs\n", 'config.yaml: storage.backend: must be "filesystem" or "s3", not "gcs"'],
    ["storage:\n  backend: s3\n  s3:\n    bucket: My_Bucket\n", "config.yaml: storage.s3.bucket: must be an S3 bucket name"],
    ["storage:\n  backend: s3\n  s3:\n    prefix: x\n", "config.yaml: storage.s3.bucket:"],
    ["storage:\n  backend: s3\n  s3:\n    bucket: b-1\n    prefix: a/../b\n", "config.yaml: storage.s3.prefix: must not contain '.' or '..' segments"],
    ["storage:\n  backend: s3\n  s3:\n    bucket: b-1\n    prefix: a//b\n", "config.yaml: storage.s3.prefix: must be key segments"],
    ["storage:\n  backend: s3\n  s3:\n    bucket: b-1\n    endpoint: localhost:9000\n", "config.yaml: storage.s3.endpoint: must be an http:// or https:// URL"],
    ["storage:\n  s3:\n    bucket: b-1\n    acl: public-read\n", "config.yaml: storage.s3.acl: unknown key"],
  ])("reports %j", async (yaml, message) => {
    const issues = await issuesOf({ "config.yaml": yaml });
    // The line after the file name is checked in load.test.ts.
    expect(
      issues.some((i) => i.replace(/^(config\.yaml):\d+:/, "$1:").startsWith(message)),
      issues.join("\n"),
    ).toBe(true);
  });
});

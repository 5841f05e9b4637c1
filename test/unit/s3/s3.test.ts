// The S3 module's pure parts: s3:// URL parsing, the region default and client settings, and how SDK errors become S3Errors.
import { describe, expect, it } from "vitest";
import { s3SettingsOf } from "../../../core/s3/bucket.js";
import { resolveRegion, s3ClientConfig, s3ConnectionOf } from "../../../core/s3/client.js";
import { bucketCheckError, isNotFound, s3ErrorOf, S3Error } from "../../../core/s3/errors.js";
import { isS3Url, parseS3Url, s3Key, s3Url } from "../../../core/s3/url.js";
import { AbortedError, ChantalError, ExitCode, UsageError } from "../../../core/errors.js";

/** An AWS SDK service error as the client throws it. */
function sdkError(name: string, status: number | undefined, message = "boom"): Error {
  return Object.assign(new Error(message), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });
}

describe("s3:// URLs", () => {
  it.each([
    ["s3://bucket", { bucket: "bucket", prefix: "" }],
    ["s3://bucket/", { bucket: "bucket", prefix: "" }],
    ["s3://my.bucket-1/a/b", { bucket: "my.bucket-1", prefix: "a/b" }],
    ["s3://bucket//a/b//", { bucket: "bucket", prefix: "a/b" }],
    ["S3://bucket/x", { bucket: "bucket", prefix: "x" }],
  ])("%s parses to %o", (url, want) => {
    expect(isS3Url(url)).toBe(true);
    expect(parseS3Url(url)).toEqual(want);
  });

  it.each(["s3://", "s3://ab/x", "s3://Upper/x", "s3://-bucket/x", `s3://${"a".repeat(64)}/x`, "s3:///prefix"])("%s is a usage error naming it", (url) => {
    expect(() => parseS3Url(url)).toThrow(UsageError);
    expect(() => parseS3Url(url)).toThrow(`"${url}" is not an s3://bucket/prefix URL (bucket names are 3-63 lowercase letters, digits, '.' or '-')`);
  });

  it.each(["/var/backups", "./s3/x", "https://bucket.s3.amazonaws.com/x"])("%s is not an s3:// URL", (target) => {
    expect(isS3Url(target)).toBe(false);
  });

  it.each([
    [{ bucket: "b", prefix: "" }, undefined, "", "s3://b/"],
    [{ bucket: "b", prefix: "" }, "x.tar.gz", "x.tar.gz", "s3://b/x.tar.gz"],
    [{ bucket: "b", prefix: "p/q" }, undefined, "p/q", "s3://b/p/q"],
    [{ bucket: "b", prefix: "p/q" }, "x.tar.gz", "p/q/x.tar.gz", "s3://b/p/q/x.tar.gz"],
  ])("%o with %s: key %s, URL %s", (loc, name, key, url) => {
    expect(s3Key(loc, name)).toBe(key);
    expect(s3Url(loc, name)).toBe(url);
  });
});

describe("region and client settings", () => {
  it.each([
    ["eu-west-1", { AWS_REGION: "eu-central-1", AWS_DEFAULT_REGION: "us-west-2" }, "eu-west-1"],
    [undefined, { AWS_REGION: "eu-central-1", AWS_DEFAULT_REGION: "us-west-2" }, "eu-central-1"],
    [undefined, { AWS_DEFAULT_REGION: "us-west-2" }, "us-west-2"],
    [undefined, {}, "us-east-1"],
  ])("configured %s with %o: %s", (region, env, want) => {
    expect(resolveRegion(region, env)).toBe(want);
  });

  it("a configuration block becomes a connection, and the connection the client's settings", () => {
    expect(s3ConnectionOf(undefined)).toEqual({ forcePathStyle: false });
    const conn = s3ConnectionOf({ endpoint: "http://127.0.0.1:9000", force_path_style: true });
    expect(conn).toEqual({ endpoint: "http://127.0.0.1:9000", forcePathStyle: true });
    expect(s3ClientConfig(conn, {}, { AWS_REGION: "eu-north-1" })).toEqual({
      region: "eu-north-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      maxAttempts: 4,
    });
    const pooled = s3ClientConfig({ region: "eu-west-1" }, { maxAttempts: 5, maxSockets: 128 }, {});
    expect(pooled).toMatchObject({
      region: "eu-west-1",
      forcePathStyle: false,
      maxAttempts: 5,
      requestHandler: { httpAgent: { keepAlive: true, maxSockets: 128 }, httpsAgent: { keepAlive: true, maxSockets: 128 } },
    });
    expect(pooled).not.toHaveProperty("endpoint");
    expect(s3SettingsOf(conn, { bucket: "b", prefix: "p" }, {})).toEqual({
      bucket: "b",
      prefix: "p",
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
    });
  });
});

describe("S3 errors", () => {
  it("S3Error is a ChantalError with exit 1", () => {
    const err = new S3Error("x");
    expect(err).toBeInstanceOf(ChantalError);
    expect(err.exitCode).toBe(ExitCode.failed);
    expect(err.name).toBe("S3Error");
  });

  it.each([
    [sdkError("NotFound", 404), true],
    [sdkError("NoSuchKey", 404), true],
    [sdkError("Whatever", 404), true],
    [sdkError("NoSuchKey", undefined), true],
    [sdkError("AccessDenied", 403), false],
    [new Error("ECONNREFUSED"), false],
    [undefined, false],
  ])("isNotFound(%s) is %s", (err, want) => {
    expect(isNotFound(err)).toBe(want);
  });

  it.each([
    [
      sdkError("NoSuchKey", 404, "The specified key does not exist."),
      undefined,
      "cannot read s3://b/k: NoSuchKey (HTTP 404): The specified key does not exist.",
    ],
    [
      sdkError("AccessDenied", 403, "Access Denied"),
      "http://user:secret@127.0.0.1:9000",
      "cannot read s3://b/k: AccessDenied (HTTP 403): Access Denied (endpoint http://user:***@127.0.0.1:9000/)",
    ],
    [new Error("connect ECONNREFUSED 127.0.0.1:9"), undefined, "cannot read s3://b/k: Error: connect ECONNREFUSED 127.0.0.1:9"],
  ])("an SDK error %s (endpoint %s) reads: %s", (err, endpoint, message) => {
    const got = s3ErrorOf(err, "cannot read s3://b/k", { endpoint });
    expect(got).toBeInstanceOf(S3Error);
    expect(got.message).toBe(message);
    expect(got.message).not.toContain("secret");
    expect((got as S3Error).cause).toBe(err);
  });

  it("an aborted request is the abort's reason, and an S3Error passes through unchanged", () => {
    const controller = new AbortController();
    controller.abort(new AbortedError("interrupted", "SIGTERM"));
    expect(s3ErrorOf(sdkError("AbortError", undefined), "cannot read s3://b/k", { signal: controller.signal })).toBe(controller.signal.reason);
    const plain = new AbortController();
    plain.abort("no error");
    expect(s3ErrorOf(new Error("x"), "what", { signal: plain.signal })).toBeInstanceOf(AbortedError);
    const own = new S3Error("already said");
    expect(s3ErrorOf(own, "what")).toBe(own);
  });

  it.each([
    [404, undefined, "bucket mirror does not exist: check storage.s3.bucket (and region, endpoint)"],
    [404, "http://127.0.0.1:9000", "bucket mirror at http://127.0.0.1:9000/ does not exist: check storage.s3.bucket (and region, endpoint)"],
    [
      403,
      undefined,
      "access to bucket mirror is denied: the credentials need s3:ListBucket on it (and s3:GetObject, s3:PutObject, s3:DeleteObject on its keys)",
    ],
    [301, undefined, "bucket mirror is not in region eu-west-1: set storage.s3.region to the bucket's region"],
    [500, "http://127.0.0.1:9000", "cannot reach bucket mirror at http://127.0.0.1:9000/: InternalError (HTTP 500): boom"],
  ])("a failed HEAD of the bucket with HTTP %s (endpoint %s): %s", (status, endpoint, message) => {
    const err = bucketCheckError(sdkError(status === 500 ? "InternalError" : "Http", status), {
      bucket: "mirror",
      region: "eu-west-1",
      endpoint,
      configKey: "storage.s3",
    });
    expect(err).toBeInstanceOf(S3Error);
    expect(err.message).toBe(message);
  });
});

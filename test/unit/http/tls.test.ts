// Client certificate discovery and TLS material: pure choices table-driven, file handling on real openssl output.
import { mkdirSync, writeFileSync, copyFileSync } from "node:fs";
import { join, relative } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseClientCert, findClientCertInDir, loadRepositoryTls, pairCertificateFiles, tlsFiles, TlsSetupError } from "../../../core/http/tls.js";
import { createTlsFixtures, type TlsFixtures } from "../../helpers/tls-fixtures.js";

describe("pairCertificateFiles", () => {
  const cases: [files: string[], pairs: string[]][] = [
    [["123.pem", "123-key.pem"], ["123.pem"]],
    [["123-key.pem", "123.pem", "product.pem"], ["123.pem"]],
    [
      ["a.pem", "b.pem", "b-key.pem", "a-key.pem", "c-key.pem"],
      ["a.pem", "b.pem"],
    ],
    [["123.pem"], []],
    [["123-key.pem"], []],
    [["123.crt", "123-key.pem"], []],
    [["123.pem", "123.key"], []],
    [[], []],
  ];
  it.each(cases)("%j -> %j", (files, pairs) => {
    const got = pairCertificateFiles(files);
    expect(got.map((p) => p.cert)).toEqual(pairs);
    for (const p of got) expect(p.key).toBe(p.cert.replace(/\.pem$/, "-key.pem"));
  });
});

describe("chooseClientCert", () => {
  const now = new Date("2025-06-01T00:00:00Z");
  const c = (cert: string, from: string, to: string) => ({ cert, key: `${cert}-key`, validFrom: new Date(from), validTo: new Date(to) });
  const cases: [name: string, candidates: ReturnType<typeof c>[], chosen: string | undefined][] = [
    ["the only one", [c("a", "2025-01-01", "2026-01-01")], "a"],
    ["the valid one that expires last", [c("a", "2025-01-01", "2025-12-01"), c("b", "2025-01-01", "2026-03-01")], "b"],
    ["a valid one over a later not-yet-valid one", [c("a", "2025-01-01", "2025-12-01"), c("b", "2025-07-01", "2027-01-01")], "a"],
    ["a valid one over an expired one", [c("old", "2024-01-01", "2025-01-01"), c("new", "2025-05-01", "2025-07-01")], "new"],
    ["all expired: the one that expired last", [c("a", "2023-01-01", "2024-01-01"), c("b", "2023-01-01", "2024-06-01")], "b"],
    ["same expiry: by name", [c("b", "2025-01-01", "2026-01-01"), c("a", "2025-01-01", "2026-01-01")], "a"],
    ["none", [], undefined],
  ];
  it.each(cases)("%s", (_name, candidates, chosen) => {
    expect(chooseClientCert(candidates, now)?.cert).toBe(chosen);
  });
});

describe("TLS files (real certificates from openssl)", () => {
  let fx: TlsFixtures;
  beforeAll(() => {
    fx = createTlsFixtures();
  });
  afterAll(() => fx.remove());

  it("cert_dir picks the certificate that has a key, relative to the config directory", () => {
    const files = tlsFiles({ repoId: "r", verifySsl: true, auth: { type: "client_cert", cert_dir: relative(fx.dir, fx.entitlementDir) }, configDir: fx.dir });
    expect(files.clientCert).toEqual({ certFile: join(fx.entitlementDir, "4711.pem"), keyFile: join(fx.entitlementDir, "4711-key.pem") });
    const tls = loadRepositoryTls("r", files);
    expect(tls.upstream.cert).toBe(fx.client.certPem);
    expect(tls.upstream.key).toBe(fx.client.keyPem);
    expect(tls.clientCert?.subject).toContain("CN=chantal-client");
    expect(tls.proxy.cert).toBeUndefined();
  });

  it("explicit cert_file/key_file and ca_file", () => {
    const files = tlsFiles({
      repoId: "r",
      verifySsl: true,
      auth: { type: "client_cert", cert_file: fx.client.cert, key_file: fx.client.key, ca_file: fx.caFile },
    });
    const tls = loadRepositoryTls("r", files);
    expect(tls.upstream.cert).toBe(fx.client.certPem);
    // auth.ca_file is for upstreams only; the system CAs stay trusted beside it
    expect(tls.upstream.ca).toEqual([...rootCertificates, fx.caPem]);
    expect(tls.proxy.ca).toBeUndefined();
  });

  it("ca_bundle is trusted for the proxy and upstreams, with the system CAs; verify_ssl false turns verification off", () => {
    const tls = loadRepositoryTls("r", tlsFiles({ repoId: "r", verifySsl: false, caBundle: fx.caFile }));
    expect(tls.proxy).toEqual({ rejectUnauthorized: false, ca: [...rootCertificates, fx.caPem] });
    expect(tls.upstream).toEqual({ rejectUnauthorized: false, ca: [...rootCertificates, fx.caPem] });
    expect(loadRepositoryTls("r", tlsFiles({ repoId: "r", verifySsl: true }))).toMatchObject({
      proxy: { rejectUnauthorized: true },
      upstream: { rejectUnauthorized: true },
    });
  });

  it("names the repository, key and file for every problem", () => {
    const empty = join(fx.dir, "empty-dir");
    mkdirSync(empty);
    writeFileSync(join(empty, "5.pem"), fx.client.certPem);
    expect(() => findClientCertInDir(empty, new Date(), "repository r: auth.cert_dir")).toThrow(
      `repository r: auth.cert_dir ${empty} has no certificate with a matching key (<name>.pem beside <name>-key.pem)`,
    );
    expect(() => tlsFiles({ repoId: "r", verifySsl: true, auth: { type: "client_cert", cert_dir: join(fx.dir, "missing") } })).toThrow(
      /repository r: auth\.cert_dir .*missing cannot be read/,
    );

    const mismatch = join(fx.dir, "mismatch");
    mkdirSync(mismatch);
    copyFileSync(fx.client.cert, join(mismatch, "9.pem"));
    copyFileSync(fx.server.key, join(mismatch, "9-key.pem"));
    const files = tlsFiles({ repoId: "r", verifySsl: true, auth: { type: "client_cert", cert_dir: mismatch } });
    expect(() => loadRepositoryTls("r", files)).toThrow(
      `repository r: client key ${join(mismatch, "9-key.pem")} does not belong to the certificate ${join(mismatch, "9.pem")}`,
    );

    const notPem = join(fx.dir, "not.pem");
    writeFileSync(notPem, "hello\n");
    expect(() => loadRepositoryTls("r", tlsFiles({ repoId: "r", verifySsl: true, caBundle: notPem }))).toThrow(
      `repository r: proxy.ca_bundle ${notPem} contains no PEM certificate`,
    );
    expect(() => loadRepositoryTls("r", tlsFiles({ repoId: "r", verifySsl: true, caBundle: "/nonexistent/ca.pem" }))).toThrow(TlsSetupError);
    expect(() => loadRepositoryTls("r", { verifySsl: true, clientCert: { certFile: fx.client.cert, keyFile: notPem } })).toThrow(
      /client key .* is not a usable private key/,
    );
  });
});

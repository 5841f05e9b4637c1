// A test CA with server and client certificates, made with the real `openssl` CLI at test time, and an
// HTTPS front (TLS-terminating reverse proxy on 127.0.0.1) that puts any test HTTP server behind TLS,
// optionally demanding a client certificate.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";

export interface PemPair {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

export interface TlsFixtures {
  dir: string;
  /** The test CA's certificate (PEM file) and its text. */
  caFile: string;
  caPem: string;
  /** For 127.0.0.1 and localhost, signed by the test CA. */
  server: PemPair;
  /** clientAuth certificate (CN=chantal-client), signed by the test CA. */
  client: PemPair;
  /** An entitlement-style directory: <serial>.pem + <serial>-key.pem, plus decoys without a key. */
  entitlementDir: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function issue(dir: string, name: string, subject: string, extensions: string): PemPair {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", subject], dir);
  openssl(["x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", cert], dir);
  return { cert, key, certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
}

export function createTlsFixtures(): TlsFixtures {
  const dir = mkdtempSync(join(tmpdir(), "chantal-tls-"));
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=Chantal Test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  const server = issue(
    dir,
    "server",
    "/CN=127.0.0.1",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n",
  );
  const client = issue(dir, "client", "/CN=chantal-client", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
  const entitlementDir = join(dir, "entitlement");
  mkdirSync(entitlementDir);
  writeFileSync(join(entitlementDir, "4711.pem"), client.certPem);
  writeFileSync(join(entitlementDir, "4711-key.pem"), client.keyPem);
  // A certificate with no key beside it (like the product certificates next to entitlements): never chosen.
  writeFileSync(join(entitlementDir, "0001.pem"), server.certPem);
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    caPem: readFileSync(join(dir, "ca.pem"), "utf8"),
    server,
    client,
    entitlementDir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface HttpsFrontRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Subject CN of the client certificate presented, if any. */
  clientCert?: string;
}

export interface HttpsFront {
  /** https://127.0.0.1:<port> */
  url: string;
  requests: HttpsFrontRequest[];
  /** TLS handshakes that failed (no or wrong client certificate, client refusing our certificate). */
  tlsErrors: string[];
  close(): Promise<void>;
}

/** Serve `target` (an http:// server on 127.0.0.1) over TLS with `server`'s certificate. */
export async function startHttpsFront(opts: { target: string; server: PemPair; requireClientCertFrom?: string }): Promise<HttpsFront> {
  const target = new URL(opts.target);
  const requests: HttpsFrontRequest[] = [];
  const tlsErrors: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpsServer(
    {
      key: opts.server.keyPem,
      cert: opts.server.certPem,
      ...(opts.requireClientCertFrom ? { requestCert: true, rejectUnauthorized: true, ca: opts.requireClientCertFrom } : {}),
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const cn = peer && typeof peer.subject?.CN === "string" ? peer.subject.CN : undefined;
      requests.push({ method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, ...(cn ? { clientCert: cn } : {}) });
      const headers = { ...req.headers, host: target.host };
      const up = httpRequest({ host: target.hostname, port: Number(target.port), path: req.url, method: req.method, headers }, (r) => {
        const out = { ...r.headers };
        // Redirects of the backend point at the backend: rewrite them to this front.
        if (out.location?.startsWith(target.origin))
          out.location = `https://127.0.0.1:${(server.address() as AddressInfo).port}${out.location.slice(target.origin.length)}`;
        res.writeHead(r.statusCode ?? 502, out);
        r.pipe(res);
      });
      up.on("error", (err) => (res.headersSent ? res.destroy() : res.writeHead(502).end(err.message)));
      req.pipe(up);
    },
  );
  server.on("tlsClientError", (err) => tlsErrors.push(err.message));
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    tlsErrors,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

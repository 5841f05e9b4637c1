// TLS material of one repository: extra trusted CAs (proxy ca_bundle, auth ca_file), verify_ssl, and the client
// certificate (auth client_cert: explicit cert_file/key_file, or the *.pem in cert_dir that has a *-key.pem).
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { rootCertificates } from "node:tls";
import type { AuthConfig } from "../config/schema.js";
import { ChantalError, errorMessage } from "../errors.js";

/** A user-fixable problem with a certificate, key or CA file; names the repository, the key and the file. */
export class TlsSetupError extends ChantalError {}

export interface ClientCertFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsFiles {
  verifySsl: boolean;
  /** proxy ca_bundle: trusted for the proxy and for upstreams (with the system CAs). */
  caBundle?: string;
  /** auth ca_file: trusted for upstreams (with the system CAs). */
  upstreamCa?: string;
  clientCert?: ClientCertFiles;
}

/** What undici's connect options take. */
export interface TlsOptions {
  rejectUnauthorized: boolean;
  ca?: string[];
  cert?: string;
  key?: string;
}

export interface RepositoryTls {
  files: TlsFiles;
  /** For the connection to an https:// proxy. */
  proxy: TlsOptions;
  /** For upstream TLS, direct or through a proxy tunnel. */
  upstream: TlsOptions;
  /** The client certificate in use: subject and expiry, for `proxy explain`. */
  clientCert?: { file: string; keyFile: string; subject: string; validTo: string };
}

// ---------------------------------------------------------------------------------------------
// Client certificate discovery (pure parts first)

/** `<name>.pem` files that have a `<name>-key.pem` beside them, sorted by name. */
export function pairCertificateFiles(fileNames: readonly string[]): { cert: string; key: string }[] {
  const names = new Set(fileNames);
  return fileNames
    .filter((f) => f.endsWith(".pem") && !f.endsWith("-key.pem") && names.has(`${f.slice(0, -4)}-key.pem`))
    .sort()
    .map((cert) => ({ cert, key: `${cert.slice(0, -4)}-key.pem` }));
}

export interface CertCandidate {
  cert: string;
  key: string;
  validFrom: Date;
  validTo: Date;
}

/** Among several pairs, the one valid now that expires last; else (all expired or not yet valid) the one that expires last. */
export function chooseClientCert<T extends CertCandidate>(candidates: readonly T[], now: Date): T | undefined {
  const byExpiry = [...candidates].sort((a, b) => b.validTo.getTime() - a.validTo.getTime() || a.cert.localeCompare(b.cert));
  return byExpiry.find((c) => c.validFrom <= now && now <= c.validTo) ?? byExpiry[0];
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new TlsSetupError(`${what} ${file} cannot be read: ${errorMessage(err)}`);
  }
}

function parseCertificate(pem: string, file: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new TlsSetupError(`${what} ${file} is not a PEM certificate: ${errorMessage(err)}`);
  }
}

/** The entitlement certificate of a cert_dir. */
export function findClientCertInDir(dir: string, now: Date, what: string): ClientCertFiles {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new TlsSetupError(`${what} ${dir} cannot be read: ${errorMessage(err)}`);
  }
  const pairs = pairCertificateFiles(names);
  if (pairs.length === 0) throw new TlsSetupError(`${what} ${dir} has no certificate with a matching key (<name>.pem beside <name>-key.pem)`);
  const candidates = pairs.map((p) => {
    const file = join(dir, p.cert);
    const x = parseCertificate(readText(file, what), file, what);
    return { ...p, validFrom: new Date(x.validFrom), validTo: new Date(x.validTo) };
  });
  const chosen = chooseClientCert(candidates, now)!;
  return { certFile: join(dir, chosen.cert), keyFile: join(dir, chosen.key) };
}

// ---------------------------------------------------------------------------------------------
// Loading

function absolute(path: string, configDir: string | undefined): string {
  return isAbsolute(path) || !configDir ? path : resolve(configDir, path);
}

/** Which files a repository's TLS uses; relative paths are relative to the configuration directory. */
export function tlsFiles(opts: { repoId: string; verifySsl: boolean; caBundle?: string; auth?: AuthConfig; configDir?: string; now?: Date }): TlsFiles {
  const files: TlsFiles = { verifySsl: opts.verifySsl };
  if (opts.caBundle) files.caBundle = absolute(opts.caBundle, opts.configDir);
  const auth = opts.auth;
  if (auth?.type !== "client_cert") return files;
  if (auth.ca_file) files.upstreamCa = absolute(auth.ca_file, opts.configDir);
  if (auth.cert_dir) {
    files.clientCert = findClientCertInDir(absolute(auth.cert_dir, opts.configDir), opts.now ?? new Date(), `repository ${opts.repoId}: auth.cert_dir`);
  } else if (auth.cert_file && auth.key_file) {
    files.clientCert = { certFile: absolute(auth.cert_file, opts.configDir), keyFile: absolute(auth.key_file, opts.configDir) };
  }
  return files;
}

function readCaFile(file: string, what: string): string {
  const pem = readText(file, what);
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new TlsSetupError(`${what} ${file} contains no PEM certificate`);
  return pem;
}

/** Read the files and build the connect options; every problem names the repository, key and file. */
export function loadRepositoryTls(repoId: string, files: TlsFiles): RepositoryTls {
  const bundle = files.caBundle ? readCaFile(files.caBundle, `repository ${repoId}: proxy.ca_bundle`) : undefined;
  const authCa = files.upstreamCa ? readCaFile(files.upstreamCa, `repository ${repoId}: auth.ca_file`) : undefined;
  // Node's `ca` replaces the default trust store: keep the system CAs beside the extra ones.
  const trust = (extra: (string | undefined)[]) => {
    const pems = extra.filter((p): p is string => !!p);
    return pems.length > 0 ? { ca: [...rootCertificates, ...pems] } : {};
  };
  const out: RepositoryTls = {
    files,
    proxy: { rejectUnauthorized: files.verifySsl, ...trust([bundle]) },
    upstream: { rejectUnauthorized: files.verifySsl, ...trust([bundle, authCa]) },
  };
  if (files.clientCert) {
    const { certFile, keyFile } = files.clientCert;
    const cert = readText(certFile, `repository ${repoId}: client certificate`);
    const key = readText(keyFile, `repository ${repoId}: client key`);
    const x = parseCertificate(cert, certFile, `repository ${repoId}: client certificate`);
    let matches: boolean;
    try {
      matches = x.checkPrivateKey(createPrivateKey(key));
    } catch (err) {
      throw new TlsSetupError(`repository ${repoId}: client key ${keyFile} is not a usable private key: ${errorMessage(err)}`);
    }
    if (!matches) throw new TlsSetupError(`repository ${repoId}: client key ${keyFile} does not belong to the certificate ${certFile}`);
    out.upstream.cert = cert;
    out.upstream.key = key;
    out.clientCert = { file: certFile, keyFile, subject: x.subject.replace(/\n/g, ", "), validTo: new Date(x.validTo).toISOString() };
  }
  return out;
}

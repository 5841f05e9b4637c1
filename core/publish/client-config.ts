// What a client needs to use a published tree: its URL, a dnf .repo stanza, APT sources.list and deb822 .sources forms.
import type { RepositoryConfig } from "../config/schema.js";

/** A published tree, as the client snippets need it; built by the caller from the configuration and the database. */
export interface PublishedTarget {
  repoId: string;
  type: RepositoryConfig["type"];
  /** "latest" or "snapshots/<name>", relative to <published>/<repo-id>. */
  name: string;
  description?: string;
  /** Where the tree is on this host (a directory, or s3://bucket/key with backend s3). */
  path: string;
  /** publish.base_url of the repository, else the global one; undefined when neither is set. */
  baseUrl?: string;
  apt?: { distribution: string; components: readonly string[]; architectures: readonly string[]; includeSources: boolean };
  /** Key files of verify.keyring (an APT repository): what Signed-By names. */
  signedBy?: readonly string[];
  /** Which repomd.xml signature files the RPM tree holds (the sync keeps them verbatim when upstream publishes them). */
  rpmSignature?: { asc: boolean; key: boolean };
  /**
   * The mirror signs this tree's metadata with its own key (a filter regenerates it, or signing.resign): clients trust
   * that key, published as <base_url><repo-id>/<name>.asc and .gpg, instead of the upstream's.
   */
  mirrorKey?: { name: string };
  /** A filter rewrites this tree's metadata and no signing: block applies: it is published unsigned. */
  unsignedRewrite?: boolean;
}

const UNSIGNED_REWRITE = "the mirror rewrites this metadata (filter:) and has no signing: block, so it is unsigned: add one (chantal-run signing generate-key)";

export interface ClientSnippet {
  /** Where the snippet goes on a client. */
  file: string;
  text: string;
}

export interface ClientConfig {
  /** The tree's URL, ending in "/"; undefined without publish.base_url. */
  url?: string;
  path: string;
  snippets: ClientSnippet[];
  /** Without publish.base_url: how to set it. */
  hint?: string;
}

/** `<base_url><repo-id>/<name>/`: base_url is the URL of storage.published_path. */
export function publishedUrl(baseUrl: string, repoId: string, name: string): string {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  return `${base}${[repoId, ...name.split("/")].map(encodeURIComponent).join("/")}/`;
}

/** `<base_url><repo-id>/<file>`: a file beside the repository's trees (the mirror's public key). */
export function repoFileUrl(baseUrl: string, repoId: string, fileName: string): string {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  return `${base}${encodeURIComponent(repoId)}/${encodeURIComponent(fileName)}`;
}

/** Where a client keeps the mirror's key of a repository for apt's signed-by= (one file for latest and every snapshot). */
export function aptKeyringPath(repoId: string): string {
  return `/etc/apt/keyrings/${repoId}.gpg`;
}

/** dnf repository id and file stem: the repository id, with the snapshot name for a snapshot. */
export function clientRepoName(repoId: string, name: string): string {
  return name === "latest" ? repoId : `${repoId}-${name.replace(/^snapshots\//, "")}`;
}

/** One line of text in an INI value or a deb822 field: newlines would start a new key. */
function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

export function rpmRepoStanza(t: PublishedTarget, url: string): ClientSnippet {
  const id = clientRepoName(t.repoId, t.name);
  const snapshot = t.name === "latest" ? "" : ` (snapshot ${t.name.replace(/^snapshots\//, "")})`;
  const lines = [`[${id}]`, `name=${oneLine(t.description ?? t.repoId)}${snapshot}`, `baseurl=${url}`, "enabled=1"];
  const sig = t.rpmSignature ?? { asc: false, key: false };
  if (t.mirrorKey && t.baseUrl) {
    // repomd.xml is signed by the mirror; the upstream's repomd.xml.key (when the tree has one) still checks its packages.
    const mirrorKey = repoFileUrl(t.baseUrl, t.repoId, `${t.mirrorKey.name}.asc`);
    if (sig.key) lines.push("gpgcheck=1", "repo_gpgcheck=1", `gpgkey=${mirrorKey} ${url}repodata/repomd.xml.key`);
    else
      lines.push(
        "gpgcheck=0",
        "repo_gpgcheck=1",
        `gpgkey=${mirrorKey}`,
        "# repomd.xml is signed by the mirror; if the upstream signs its packages, set gpgcheck=1 and add its key to gpgkey=",
      );
  } else if (t.unsignedRewrite) {
    lines.push("gpgcheck=0", "repo_gpgcheck=0", `# ${UNSIGNED_REWRITE}; if the upstream signs its packages, set gpgcheck=1 and gpgkey= to its key`);
  } else if (sig.asc) {
    // The upstream signs repomd.xml: the mirror keeps the signature, so clients check it and the packages.
    lines.push("gpgcheck=1", "repo_gpgcheck=1");
    if (sig.key) lines.push(`gpgkey=${url}repodata/repomd.xml.key`);
    else lines.push("# the upstream publishes no repodata/repomd.xml.key: set gpgkey= to the URL or file:// path of its signing key");
  } else {
    lines.push("gpgcheck=0", "repo_gpgcheck=0", "# the upstream does not sign repomd.xml: if its packages are signed, set gpgcheck=1 and gpgkey= to its key");
  }
  return { file: `/etc/yum.repos.d/${id}.repo`, text: lines.join("\n") + "\n" };
}

/** The keys of Signed-By: the mirror's (installed by the client, see keyringNote), else verify.keyring's. */
function signedByKeys(t: PublishedTarget): readonly string[] | undefined {
  if (t.unsignedRewrite) return undefined;
  return t.mirrorKey ? [aptKeyringPath(t.repoId)] : t.signedBy;
}

function keyringNote(t: PublishedTarget): string[] {
  if (t.mirrorKey && t.baseUrl) {
    const keyUrl = repoFileUrl(t.baseUrl, t.repoId, `${t.mirrorKey.name}.gpg`);
    const dest = aptKeyringPath(t.repoId);
    return [
      "# the mirror signs this suite with its own key; install it once on each client:",
      "#   sudo install -d -m 0755 /etc/apt/keyrings",
      `#   sudo curl -fsSL ${keyUrl} -o ${dest}    (or: sudo wget -qO ${dest} ${keyUrl})`,
    ];
  }
  if (t.unsignedRewrite) return [`# ${UNSIGNED_REWRITE}; apt refuses an unsigned suite`];
  if (!t.signedBy || t.signedBy.length === 0)
    return ["# no verify.keyring is configured: add Signed-By (signed-by=) with the upstream's key, or apt refuses the unsigned suite"];
  return [`# signed-by names verify.keyring of this host: copy ${t.signedBy.join(", ")} to the same path on every client`];
}

/** One-line style, /etc/apt/sources.list.d/<id>.list; a deb-src line when sources are mirrored. */
export function aptSourcesList(t: PublishedTarget, url: string): ClientSnippet {
  const apt = requireApt(t);
  const keys = signedByKeys(t);
  const signedBy = keys && keys.length > 0 ? ` signed-by=${keys.join(",")}` : "";
  const rest = `${url} ${apt.distribution} ${apt.components.join(" ")}`;
  const lines = [...keyringNote(t), `deb [arch=${apt.architectures.join(",")}${signedBy}] ${rest}`];
  if (apt.includeSources) lines.push(signedBy ? `deb-src [${signedBy.trim()}] ${rest}` : `deb-src ${rest}`);
  return { file: `/etc/apt/sources.list.d/${clientRepoName(t.repoId, t.name)}.list`, text: lines.join("\n") + "\n" };
}

/** deb822 style (apt >= 1.1), /etc/apt/sources.list.d/<id>.sources. */
export function aptDeb822(t: PublishedTarget, url: string): ClientSnippet {
  const apt = requireApt(t);
  const lines = [
    ...keyringNote(t),
    `Types: ${apt.includeSources ? "deb deb-src" : "deb"}`,
    `URIs: ${url}`,
    `Suites: ${apt.distribution}`,
    `Components: ${apt.components.join(" ")}`,
    `Architectures: ${apt.architectures.join(" ")}`,
    ...(signedByKeys(t)?.length ? [`Signed-By: ${signedByKeys(t)!.join(" ")}`] : []),
  ];
  return { file: `/etc/apt/sources.list.d/${clientRepoName(t.repoId, t.name)}.sources`, text: lines.join("\n") + "\n" };
}

function requireApt(t: PublishedTarget): NonNullable<PublishedTarget["apt"]> {
  if (!t.apt) throw new Error(`repository ${t.repoId} is of type apt but has no apt: block`);
  return t.apt;
}

/** For a terminal, after the line that gave the path: the URL, then each snippet under a comment naming its file (valid in the file itself). */
export function formatClientConfig(c: ClientConfig): string {
  if (!c.url) return `clients: ${c.hint}\n`;
  return [`url: ${c.url}\n`, ...c.snippets.map((s) => `# ${s.file}\n${s.text}`)].join("\n");
}

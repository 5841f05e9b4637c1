// A real nginx or apache2 in the foreground on 127.0.0.1, configured with the README's own server block.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../core/free-port.js";
import { repoRoot } from "./cli.js";

/** The fenced block of `lang` in the README's "Serving the mirror" section, verbatim. */
export function readmeBlock(lang: "nginx" | "apache"): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const section = /^## Serving the mirror\n([\s\S]*?)^## /m.exec(readme)?.[1];
  if (!section) throw new Error('README.md has no "## Serving the mirror" section');
  const block = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "m").exec(section)?.[1];
  if (!block) throw new Error(`README.md's "Serving the mirror" has no \`\`\`${lang} block`);
  return block;
}

/** Replace a README placeholder, failing when the README no longer has it (the test would silently drift). */
function substitute(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the README's server block no longer contains "${from}": update the test's substitutions`);
  return text.split(from).join(to);
}

export { freePort };

export interface WebServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

async function waitUntilServing(child: ChildProcess, url: string, log: string): Promise<void> {
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exited with ${code ?? signal}`));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`web server ${exited}: ${existsSync(log) ? readFileSync(log, "utf8") : ""}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`web server not answering at ${url}: ${existsSync(log) ? readFileSync(log, "utf8") : ""}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill("SIGTERM");
    });
}

async function start(cmd: string, args: string[], port: number, log: string): Promise<WebServer> {
  const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
  const url = `http://127.0.0.1:${port}/`;
  const close = stopper(child);
  try {
    await waitUntilServing(child, url, log);
  } catch (err) {
    await close();
    throw err;
  }
  return { url, port, close };
}

/** nginx -g "daemon off" with the README's server block serving `root` (its /var/lib/chantal/published). */
export async function startNginx(dir: string, root: string): Promise<WebServer> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let server = substitute(readmeBlock("nginx"), "listen 80;", `listen 127.0.0.1:${port};`);
  server = substitute(server, "/var/lib/chantal/published", root);
  const log = join(dir, "error.log");
  const conf = [
    "daemon off;",
    // The test's scratch directories are private to root (mkdtemp): the worker reads them as root.
    "user root;",
    "worker_processes 1;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${log} warn;`,
    "events { worker_connections 64; }",
    "http {",
    "  include /etc/nginx/mime.types;",
    "  default_type application/octet-stream;",
    `  access_log ${dir}/access.log;`,
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    server,
    "}",
    "",
  ].join("\n");
  writeFileSync(join(dir, "nginx.conf"), conf);
  return start("nginx", ["-e", log, "-p", dir, "-c", join(dir, "nginx.conf")], port, log);
}

const APACHE_MODULES = ["mpm_event", "authz_core", "mime", "headers", "autoindex", "dir"];

/** apache2 -DFOREGROUND with the README's virtual host serving `root`; children run as www-data, who must read `root`. */
export async function startApache(dir: string, root: string): Promise<WebServer> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let vhost = substitute(readmeBlock("apache"), "<VirtualHost *:80>", `<VirtualHost *:${port}>`);
  vhost = substitute(vhost, "/var/lib/chantal/published", root);
  const log = join(dir, "error.log");
  const conf = [
    `ServerRoot ${dir}`,
    `DefaultRuntimeDir ${dir}`,
    `PidFile ${dir}/apache.pid`,
    `ErrorLog ${log}`,
    "LogLevel warn",
    `Listen 127.0.0.1:${port}`,
    "ServerName 127.0.0.1",
    "User www-data",
    "Group www-data",
    ...APACHE_MODULES.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`),
    "TypesConfig /etc/mime.types",
    vhost,
    "",
  ].join("\n");
  writeFileSync(join(dir, "apache2.conf"), conf);
  return start("apache2", ["-f", join(dir, "apache2.conf"), "-DFOREGROUND"], port, log);
}

// `chantal-run proxy explain`: which proxy a repository's requests take and why (a PAC file's answer too), NO_PROXY, TLS settings; --test fetches the upstream index through it.
import type { Command } from "commander";
import { findRepository } from "../../core/config/load.js";
import type { RepositoryConfig } from "../../core/config/schema.js";
import { ExitCode, UsageError, errorMessage } from "../../core/errors.js";
import { fetchBuffer, HttpStatusError } from "../../core/http/client.js";
import { displayProxy } from "../../core/http/proxy.js";
import { isSocksUrl } from "../../core/http/proxy-url.js";
import { repositoryHttp, routeSummary, type RepositoryHttp } from "../../core/http/repo-http.js";
import { redactSecrets, redactUrl } from "../../core/redact.js";
import { REPOSITORY_TYPES } from "../../core/repository-types.js";
import { configSecrets } from "../../core/config/secrets.js";
import { action } from "../context.js";
import { formatLocalTimeWithZone, printJson } from "../output.js";
import { repoIdArgument } from "../repo-id.js";

interface ExplainOptions {
  repoId: string;
  url?: string;
  test?: boolean;
  json?: boolean;
}

interface TestResult {
  url: string;
  ok: boolean;
  status: number | null;
  ms: number;
  bytes: number | null;
  error: string | null;
}

/** The file a sync reads first: repomd.xml, or the suite's InRelease. */
export function indexUrl(repo: RepositoryConfig): string {
  return REPOSITORY_TYPES[repo.type].indexUrl(repo);
}

async function testFetch(url: string, http: RepositoryHttp, signal: AbortSignal, secrets: string[]): Promise<TestResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const res = await fetchBuffer(
      url,
      { ...http.http, retries: 0, timeoutMs: 30_000, signal },
      { maxBytes: 64 * 1024 * 1024 },
      { subject: url.split("/").pop() || url },
    );
    return { url: redactUrl(url), ok: true, status: res.status, ms: ms(), bytes: res.body.length, error: null };
  } catch (err) {
    const status = err instanceof HttpStatusError ? err.status : null;
    return { url: redactUrl(url), ok: false, status, ms: ms(), bytes: null, error: redactSecrets(errorMessage(err), secrets) };
  }
}

async function explanation(repo: RepositoryConfig, target: string, http: RepositoryHttp, warnings: string[]) {
  const decision = await http.resolve(target);
  const { files, clientCert } = http.tls;
  const pac = decision.pac && decision.pac !== "pending" ? decision.pac : undefined;
  return {
    repository: repo.id,
    url: redactUrl(target),
    ...routeSummary(decision),
    proxy: decision.proxy ? routeSummary(decision).proxy : null,
    socks: decision.proxy && isSocksUrl(decision.proxy.url) ? { remoteDns: decision.proxy.url.startsWith("socks5h:") } : null,
    noProxyMatch: decision.noProxyMatch ?? null,
    noProxy: http.selection.noProxy.entries.map((e) => e.text),
    noProxyIgnored: http.selection.noProxy.invalid,
    pac: pac ? { file: pac.script, answer: pac.answer, tryInOrder: pac.chain.map((p) => displayProxy(p, { withUser: true })), ignored: pac.ignored } : null,
    tls: {
      verifySsl: files.verifySsl,
      caBundle: files.caBundle ?? null,
      upstreamCa: files.upstreamCa ?? null,
      clientCert: clientCert ?? null,
    },
    auth: repo.auth?.type ?? null,
    warnings: [...http.warnings, ...warnings],
  };
}

function printExplanation(e: Awaited<ReturnType<typeof explanation>>, test: TestResult | undefined): void {
  const trusted = [
    "system CAs",
    ...(e.tls.caBundle ? [`${e.tls.caBundle} (ca_bundle)`] : []),
    ...(e.tls.upstreamCa ? [`${e.tls.upstreamCa} (auth.ca_file, upstreams only)`] : []),
  ];
  const noProxy =
    e.noProxyMatch !== null ? `entry "${e.noProxyMatch}" matches: direct` : e.noProxy.length > 0 ? `no entry matches (${e.noProxy.join(", ")})` : "no entries";
  const rows: [string, string][] = [
    ["repository", e.repository],
    ["url", e.url],
    ["proxy", e.proxy ?? "direct"],
    ["source", `${e.source}: ${e.reason}`],
    ...(e.pac
      ? ([
          ["pac", `${e.pac.file} answered "${e.pac.answer}"`],
          ["tried", e.pac.tryInOrder.join(", then ")],
        ] as [string, string][])
      : []),
    ...(e.socks
      ? [
          ["socks", e.socks.remoteDns ? "SOCKS5, the proxy resolves names (socks5h)" : "SOCKS5, names resolved here, the address sent (socks5)"] as [
            string,
            string,
          ],
        ]
      : []),
    ["no_proxy", noProxy],
    ["verify TLS", e.tls.verifySsl ? "yes" : "NO (verify_ssl: false)"],
    ["trusted", trusted.join(" + ")],
    [
      "client cert",
      e.tls.clientCert
        ? `${e.tls.clientCert.file} (key ${e.tls.clientCert.keyFile}), ${e.tls.clientCert.subject}, valid until ${formatLocalTimeWithZone(new Date(e.tls.clientCert.validTo))}`
        : "none",
    ],
    ["auth", e.auth === "basic" ? "basic (sent to the upstream's host only, never to the proxy as Proxy-Authorization)" : (e.auth ?? "none")],
    ...e.warnings.map((w): [string, string] => ["warning", w]),
  ];
  if (test) {
    rows.push(["test", `GET ${test.url}`]);
    rows.push(["result", test.ok ? `HTTP ${test.status} in ${test.ms} ms, ${test.bytes} bytes` : `FAILED after ${test.ms} ms: ${test.error}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n");
}

export function register(proxy: Command): void {
  repoIdArgument(
    proxy
      .command("explain")
      .description("which proxy a repository's requests take and why, NO_PROXY, TLS settings; --test fetches the upstream index through it"),
    "the repository",
    { required: true },
  )
    .option("--url <url>", "explain this URL instead of the repository's upstream (a redirect target, a package URL)")
    .option("--test", "fetch the upstream's index (repomd.xml / InRelease), or --url, and report status, time and any TLS or authentication error")
    .option("--json", "print as JSON")
    .action(
      action(async (ctx, _repoId: string | undefined, opts: ExplainOptions) => {
        if (opts.url !== undefined && !(/^https?:\/\//i.test(opts.url) && URL.canParse(opts.url)))
          throw new UsageError(`--url must be an http:// or https:// URL, not "${opts.url}"`);
        const loaded = await ctx.loadConfig();
        const repo = findRepository(loaded, opts.repoId);
        const warnings: string[] = [];
        const http = repositoryHttp(repo, loaded.config, {}, { configDir: loaded.dir, onWarning: (w) => warnings.push(w) });
        try {
          const e = await explanation(repo, opts.url ?? repo.upstream_url, http, warnings);
          const before = warnings.length;
          const test = opts.test ? await testFetch(opts.url ?? indexUrl(repo), http, ctx.signal, configSecrets(loaded.config)) : undefined;
          // The test's own: a PAC's proxy found unreachable on the way.
          e.warnings.push(...warnings.slice(before));
          if (opts.json) printJson({ ...e, ...(test ? { test } : {}) });
          else printExplanation(e, test);
          return test && !test.ok ? ExitCode.failed : ExitCode.ok;
        } finally {
          await http.close();
        }
      }),
    );
}

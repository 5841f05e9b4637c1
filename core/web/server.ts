// The daemon's HTTP listener: the read-only dashboard, its JSON API (/api/...) and GET /metrics, behind web.auth when set.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { prometheusContentType } from "prom-client";
import { isLoopbackHost } from "../config/schema.js";
import { ChantalError, errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { metricsText } from "../metrics/registry.js";
import { authorized, challenge } from "./auth.js";
import type { Html } from "./html.js";
import type { ListenerPlan } from "./listen.js";
import * as pages from "./pages.js";
import * as q from "./queries.js";
import { ALLOWED_METHODS, resolveRoute, type Route } from "./routes.js";

export interface WebServer {
  /** http://host:port (the port the system chose when 0 was asked). */
  url: string;
  close(): Promise<void>;
}

/** On every answer: the pages load nothing from elsewhere and run no script; nothing is framed, sniffed or cached. */
export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

const TEXT = "text/plain; charset=utf-8";

/** The Host header names this host (a loopback name or address): refuses DNS rebinding when no credentials protect the listener. */
function loopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:[0-9]*$/, "");
  return isLoopbackHost(name);
}

function limitParam(params: URLSearchParams): number {
  const n = Number(params.get("limit") ?? q.RUN_LIMIT);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, q.MAX_RUN_LIMIT) : q.RUN_LIMIT;
}

/** The JSON and, for a page, its title and body, of one view. */
async function view(
  route: Extract<Route, { kind: "page" | "api" }>,
  src: q.WebSources,
  signal: AbortSignal,
): Promise<{ json: unknown; title: string; body: () => Html }> {
  const p = route.params;
  switch (route.view) {
    case "repositories": {
      const [repos, scheduler] = [await q.repositoriesJson(src), q.schedulerJson(src)];
      return { json: repos, title: "Repositories", body: () => pages.repositoriesPage(repos, scheduler) };
    }
    case "repository": {
      const r = await q.repositoryJson(src, route.repoId!, limitParam(p));
      return { json: r, title: `Repository ${r.id}`, body: () => pages.repositoryPage(r) };
    }
    case "diff": {
      const [from, to] = [p.get("from"), p.get("to")];
      if (!from || !to) throw new q.NotFound(`a diff needs ?from=SNAPSHOT&to=SNAPSHOT (see ${route.repoId}'s snapshots)`);
      const d = await q.snapshotDiffJson(src, route.repoId!, from, to);
      return { json: d, title: `${d.repository}: ${d.from.name} → ${d.to.name}`, body: () => pages.diffPage(d) };
    }
    case "runs": {
      const runs = await q.runsJson(src, { ...(p.get("repo") ? { repoId: p.get("repo")! } : {}), limit: limitParam(p) });
      return { json: runs, title: "Runs", body: () => pages.runsPage(runs) };
    }
    case "groups": {
      const g = await q.groupsJson(src);
      return { json: g, title: "Groups & environments", body: () => pages.groupsPage(g) };
    }
    case "backups": {
      const b = await q.backupsJson(src, signal);
      return { json: b, title: "Backups", body: () => pages.backupsPage(b) };
    }
    case "pool": {
      const u = await q.poolJson(src, signal);
      return { json: u, title: "Pool", body: () => pages.poolPage(u) };
    }
    case "scheduler": {
      const s = q.schedulerJson(src);
      return { json: s, title: "Scheduler", body: () => pages.schedulerPage(s) };
    }
  }
}

async function answer(req: IncomingMessage, res: ServerResponse, plan: ListenerPlan, sources: () => q.WebSources, log: Logger, signal: AbortSignal) {
  const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) =>
    res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, ...headers }).end(body);
  if (plan.auth) {
    if (!authorized(plan.auth, req.headers.authorization))
      return send(401, TEXT, "credentials required (web.auth)\n", { "www-authenticate": challenge(plan.auth) });
  } else if (!loopbackHostHeader(req.headers.host)) {
    return send(421, TEXT, "this listener answers only to a loopback Host (127.0.0.1, localhost, [::1]); set web.auth to serve other names\n");
  }
  const resolved = resolveRoute(req.method, req.url);
  if (resolved.status === 405) return send(405, TEXT, "this listener is read-only: only GET and HEAD\n", { allow: ALLOWED_METHODS.join(", ") });
  if (resolved.status === 404) {
    if (resolved.api) return send(404, "application/json", `${JSON.stringify({ error: "no such endpoint (see the README: the JSON API)" })}\n`);
    return send(404, "text/html; charset=utf-8", pages.errorPage(404, `nothing at ${(req.url ?? "/").split("?")[0]}`, new Date()).text);
  }
  const route = resolved.route;
  if (route.kind === "stylesheet") return send(200, "text/css; charset=utf-8", pages.STYLESHEET, { "cache-control": "max-age=3600" });
  const src = sources();
  if (route.kind === "metrics") return send(200, prometheusContentType, await metricsText(src));
  try {
    const v = await view(route, src, signal);
    if (route.kind === "api") return send(200, "application/json", `${JSON.stringify(v.json, null, 2)}\n`);
    return send(200, "text/html; charset=utf-8", pages.layout(v.title, v.body(), src.now()).text);
  } catch (err) {
    const status = err instanceof q.NotFound ? 404 : 500;
    if (status === 500) log.warn({ error: errorMessage(err), url: req.url }, "web: cannot answer");
    if (route.kind === "api") return send(status, "application/json", `${JSON.stringify({ error: errorMessage(err) })}\n`);
    return send(status, "text/html; charset=utf-8", pages.errorPage(status, errorMessage(err), src.now()).text);
  }
}

/** Listen on plan.address; sources() is called per request (the configuration of now, after a SIGHUP reload). */
export async function startWebServer(plan: ListenerPlan, sources: () => q.WebSources, log: Logger): Promise<WebServer> {
  const stopping = new AbortController();
  const server: Server = createServer((req, res) => {
    answer(req, res, plan, sources, log, stopping.signal).catch((err: unknown) => {
      log.warn({ error: errorMessage(err), url: req.url }, "web: cannot answer");
      if (!res.headersSent) res.writeHead(500, { ...SECURITY_HEADERS, "content-type": TEXT }).end(`cannot answer: ${errorMessage(err)}\n`);
      else res.destroy();
    });
  });
  const { host, port: wanted } = plan.address;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new ChantalError(`cannot listen on ${host}:${wanted}: ${err.message} (choose another web.listen/metrics.listen or --http)`)),
    );
    server.listen(wanted, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : wanted;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        stopping.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

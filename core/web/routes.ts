// The listener's routes: a method and URL resolved to a page, an /api/ endpoint, /metrics or the stylesheet (pure; table-tested).
export type View = "repositories" | "repository" | "diff" | "runs" | "groups" | "backups" | "pool" | "scheduler";

export type Route = { kind: "metrics" } | { kind: "stylesheet" } | { kind: "page" | "api"; view: View; repoId?: string; params: URLSearchParams };

export type Resolution = { status: 200; route: Route } | { status: 404; api: boolean } | { status: 405 };

/** Only reading methods: nothing on this listener changes state. */
export const ALLOWED_METHODS = ["GET", "HEAD"] as const;

const STATIC_VIEWS: Record<string, View> = {
  "": "repositories",
  repositories: "repositories",
  runs: "runs",
  groups: "groups",
  backups: "backups",
  pool: "pool",
  scheduler: "scheduler",
};

function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export function resolveRoute(method: string | undefined, rawUrl: string | undefined): Resolution {
  if (!(ALLOWED_METHODS as readonly string[]).includes(method ?? "")) return { status: 405 };
  let url: URL;
  try {
    url = new URL(rawUrl ?? "/", "http://listener.invalid");
  } catch {
    return { status: 404, api: false }; // "//" and the like: no path to route
  }
  const path = url.pathname;
  if (path === "/metrics") return { status: 200, route: { kind: "metrics" } };
  if (path === "/style.css") return { status: 200, route: { kind: "stylesheet" } };
  const api = path === "/api" || path.startsWith("/api/");
  const rest = (api ? path.slice(4) : path).replace(/^\/+/, "").replace(/\/+$/, "");
  const kind = api ? ("api" as const) : ("page" as const);
  const notFound = { status: 404 as const, api };
  const fixed = STATIC_VIEWS[rest];
  if (fixed !== undefined && !(api && rest === "")) return { status: 200, route: { kind, view: fixed, params: url.searchParams } };
  const m = /^repositories\/([^/]+)(\/diff)?$/.exec(rest);
  if (!m) return notFound;
  const repoId = decodeSegment(m[1]!);
  if (repoId === null || repoId === "") return notFound;
  return { status: 200, route: { kind, view: m[2] ? "diff" : "repository", repoId, params: url.searchParams } };
}

/** A page's URL for a repository (its id encoded as one path segment). */
export function repositoryPath(repoId: string, suffix = ""): string {
  return `/repositories/${encodeURIComponent(repoId)}${suffix}`;
}

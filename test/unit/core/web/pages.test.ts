// Every dashboard page rendered from JSON whose every string is markup (as upstream metadata may be): no raw tag, attribute break-out
// or javascript: URL comes through; the text is there, escaped.
import { describe, expect, it } from "vitest";
import { formatBytes } from "../../../../core/format-bytes.js";
import { escapeHtml } from "../../../../core/web/html.js";
import * as pages from "../../../../core/web/pages.js";
import type { RepositoryJson, RunJson } from "../../../../core/web/queries.js";

const X = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`;
const ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;";
const at = new Date("2026-12-01T10:00:00Z");

const run: RunJson = {
  id: 7,
  repository: X,
  started_at: at,
  finished_at: at,
  duration_seconds: 1.5,
  trigger: X as RunJson["trigger"],
  status: X as RunJson["status"],
  packages_total: 1,
  packages_downloaded: 1,
  packages_added: 1,
  packages_removed: 0,
  bytes_downloaded: 2048,
  snapshot: X,
  error: X,
};

const repo: RepositoryJson = {
  id: X,
  type: X as RepositoryJson["type"],
  enabled: true,
  in_config: false,
  description: X,
  upstream_url: X,
  schedule: X,
  package_count: 3,
  freshness: {
    state: X as "ok",
    reason: X,
    last_success_at: at,
    upstream_timestamp: at,
    revision: X,
    valid_until: at,
    packages_added_last_run: 1,
  },
  last_run: run,
  next_run: at,
  waiting_for_window: null,
};

const rendered: [string, string][] = [
  ["repositories", pages.repositoriesPage([repo], { next_runs: [{ job: X, at }], queued: 1, running: 0 }).text],
  [
    "repository",
    pages.repositoryPage({
      ...repo,
      groups: [X],
      runs: [run],
      snapshots: [
        { name: X, created_at: at, package_count: 1, total_bytes: 10, published_at: at },
        { name: `${X}2`, created_at: at, package_count: 1, total_bytes: 10, published_at: null },
      ],
    }).text,
  ],
  [
    "diff",
    pages.diffPage({
      repository: X,
      from: { name: X, created_at: at, package_count: 1 },
      to: { name: X, created_at: at, package_count: 2 },
      counts: { added: 1, removed: 0, updated: 1 },
      rows: [
        { name: X, arch: X, from: null, to: X, change: "added" },
        { name: X, arch: X, from: X, to: X, change: "upgrade" },
      ],
    }).text,
  ],
  ["runs", pages.runsPage([run]).text],
  [
    "groups",
    pages.groupsPage({
      environments: [{ environment: X, serves: [{ group: X, snapshot: X, promoted_at: at, members: [{ repository: X, snapshot: X }] }] }],
      groups: [{ id: X, description: X, repositories: [X], schedule: X, snapshots: [{ name: X, created_at: at, members: [] }], environments: [] }],
    }).text,
  ],
  [
    "backups",
    pages.backupsPage({
      target: X,
      error: X,
      backups: [{ name: X, created_at: at, size: 1, valid: false, error: X, packages: null, database_version: X }],
    }).text,
  ],
  [
    "pool",
    pages.poolPage({
      repositories: [
        { repoId: X, current: { blobs: 1, bytes: 1 }, snapshotsOnly: { blobs: 0, bytes: 0 }, shared: { blobs: 0, bytes: 0 }, total: { blobs: 1, bytes: 1 } },
      ],
      referenced: { blobs: 1, bytes: 1 },
      pool: { blobs: 1, bytes: 1, location: X },
      freeBytes: null,
      reclaimable: { blobs: 0, bytes: 0 },
      protect_minutes: 60,
    }).text,
  ],
  ["scheduler", pages.schedulerPage({ next_runs: [{ job: X, at }], queued: 0, running: 0 }).text],
  ["error", pages.errorPage(404, X, at).text],
  ["layout", pages.layout(X, pages.runsPage([]), at).text],
];

describe("every page escapes what it shows", () => {
  it.each(rendered)("%s", (_name, text) => {
    expect(text).not.toContain("<script");
    expect(text).not.toContain("<img");
    expect(text).not.toMatch(/="[^"]*"'>/); // no attribute broken out of
    expect(text).toContain(ESCAPED);
  });

  it("a repository id with / ? # stays one path segment in links", () => {
    const text = pages.repositoriesPage([{ ...repo, id: "a/b?c#d" }], null).text;
    expect(text).toContain('href="/repositories/a%2Fb%3Fc%23d"');
  });

  it("the diff link carries the snapshot names URL-encoded, then HTML-escaped", () => {
    const text = rendered.find(([n]) => n === "repository")![1];
    const href = `/repositories/${encodeURIComponent(X)}/diff?${new URLSearchParams({ from: `${X}2`, to: X })}`;
    expect(text).toContain(`href="${escapeHtml(href)}"`);
    expect(text).toContain(`<form method="get" action="${escapeHtml(`/repositories/${encodeURIComponent(X)}/diff`)}">`);
  });
});

describe("a due run waiting for its maintenance window", () => {
  it("shows on the overview and the repository page instead of the next run", () => {
    const waiting = { ...repo, id: "w", waiting_for_window: { opens_at: new Date("2026-12-02T01:00:00Z") } };
    const detail = { ...waiting, groups: [], runs: [], snapshots: [] };
    for (const text of [pages.repositoriesPage([waiting], null).text, pages.repositoryPage(detail).text])
      expect(text).toContain('<span class="waiting" data-waiting-for-window="2026-12-02T01:00:00.000Z">waiting for window (opens 2026-12-02 01:00 UTC)</span>');
    const never = { ...repo, id: "w", waiting_for_window: { opens_at: null } };
    expect(pages.repositoriesPage([never], null).text).toContain("waiting for window (none opens within a year)");
    expect(pages.repositoriesPage([repo], null).text).not.toContain("waiting for window");
  });
});

describe("time and bytes", () => {
  it.each([
    [0, "0 B"],
    [999, "999 B"],
    [1000, "1.0 kB"],
    [1_500_000, "1.5 MB"],
  ])("formatBytes(%d) = %s", (n, s) => expect(formatBytes(n)).toBe(s));
  it("time() shows UTC minutes with the exact instant in datetime; null as a dash", () => {
    expect(pages.time(new Date("2026-12-01T10:00:59.123Z")).text).toBe('<time datetime="2026-12-01T10:00:59.123Z">2026-12-01 10:00 UTC</time>');
    expect(pages.time(null).text).toContain("–");
  });
});

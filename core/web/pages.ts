// The dashboard's pages, server-rendered from the same JSON the /api/ endpoints serve; every value goes through html`` (escaped).
import { formatBytes } from "../format-bytes.js";
import { windowWaitText } from "../schedule/windows.js";
import { html, type Html, type HtmlValue, query } from "./html.js";
import type { backupsJson, DiffRow, groupsJson, poolJson, repositoryJson, RepositoryJson, RunJson, schedulerJson, snapshotDiffJson } from "./queries.js";
import { repositoryPath } from "./routes.js";

/** The one stylesheet (served at /style.css: the Content-Security-Policy allows no inline style). */
export const STYLESHEET = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:baseline;flex-wrap:wrap}
header a{color:#cfe3ff;text-decoration:none}header strong{font-size:1.1em;margin-right:1em}
main{padding:1em 1.2em;max-width:1400px}
h1{font-size:1.3em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:1em}
th,td{border:1px solid #dde1e6;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;padding:0 .5em;border-radius:.7em;font-weight:600;color:#fff}
.state-ok{background:#2a7d46}.state-stale{background:#b26a00}.state-expiring{background:#8a6d00}.state-failing{background:#b3261e}
.error{color:#b3261e;white-space:pre-wrap;word-break:break-word}
.muted{color:#66707a}
tr.added td.to,tr.upgrade td.to{background:#e4f5e9}tr.removed td.from,tr.downgrade td.to{background:#fbe7e6}
tr.upgrade td.from,tr.downgrade td.from{background:#fff6dd}
code{font-family:ui-monospace,monospace;font-size:.95em}
form{margin:.5em 0}select,button{font:inherit}
`;

const NAV: [string, string][] = [
  ["/", "Repositories"],
  ["/runs", "Runs"],
  ["/groups", "Groups & environments"],
  ["/backups", "Backups"],
  ["/pool", "Pool"],
];

export function layout(title: string, body: Html, generatedAt: Date): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · chantal</title><link rel="stylesheet" href="/style.css"></head>
<body><header><strong>chantal</strong>${NAV.map(([href, label]) => html`<a href="${href}">${label}</a>`)}<span class="muted">read-only · ${time(generatedAt)}</span></header>
<main><h1>${title}</h1>
${body}</main></body></html>
`;
}

/** A time in UTC, minutes precision: what a page shows of an instant. */
const utc = (at: Date) => `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;

/** A time in UTC, minutes precision, with the exact instant in the datetime attribute. */
export function time(d: Date | string | null | undefined): Html {
  if (d === null || d === undefined) return html`<span class="muted">–</span>`;
  const at = new Date(d);
  return html`<time datetime="${at.toISOString()}">${utc(at)}</time>`;
}

/** The next run, or the due run's wait for its maintenance window (scheduler.windows). */
function nextRunCell(r: RepositoryJson): Html {
  const w = r.waiting_for_window;
  if (!w) return time(r.next_run);
  const opens = w.opens_at === null ? null : new Date(w.opens_at);
  return html`<span class="waiting" data-waiting-for-window="${opens?.toISOString() ?? "never"}">${windowWaitText({ opensAt: opens }, utc)}</span>`;
}

const bytes = formatBytes;

function state(s: string, reason?: string | null): Html {
  return html`<span class="state state-${s}" title="${reason ?? ""}">${s}</span>`;
}

function table(headers: string[], rows: HtmlValue[], empty: string): Html {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<table><thead><tr>${headers.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table>`;
}

function runStatus(r: { status: string; error: string | null } | null): Html {
  if (!r) return html`<span class="muted">never</span>`;
  return html`${r.status}`;
}

function runsTable(runs: RunJson[], withRepository: boolean): Html {
  return table(
    [
      ...(withRepository ? ["Repository"] : []),
      "Run",
      "Started",
      "Seconds",
      "Trigger",
      "Status",
      "Packages",
      "Added",
      "Removed",
      "Downloaded",
      "Snapshot",
      "Error",
    ],
    runs.map(
      (r) =>
        html`<tr data-run="${r.id}" data-status="${r.status}">${withRepository ? html`<td><a href="${repositoryPath(r.repository)}">${r.repository}</a></td>` : ""}<td class="num">${r.id}</td><td>${time(r.started_at)}</td><td class="num">${r.duration_seconds?.toFixed(1) ?? "–"}</td><td>${r.trigger}</td><td>${r.status}</td><td class="num">${r.packages_total}</td><td class="num">${r.packages_added}</td><td class="num">${r.packages_removed}</td><td class="num">${bytes(r.bytes_downloaded)}</td><td>${r.snapshot ?? ""}</td><td class="error">${r.error ?? ""}</td></tr>`,
    ),
    "no runs yet",
  );
}

export function repositoriesPage(repos: RepositoryJson[], scheduler: ReturnType<typeof schedulerJson>): Html {
  const counts = new Map<string, number>();
  for (const r of repos) counts.set(r.freshness.state, (counts.get(r.freshness.state) ?? 0) + 1);
  return html`<p>${[...counts].map(([s, n]) => html`${state(s)} ${n} `)}${scheduler ? html`<span class="muted"> · scheduler: ${scheduler.running} running, ${scheduler.queued} queued</span>` : html`<span class="muted"> · no scheduler in this process</span>`}</p>
${table(
  ["Repository", "Type", "Freshness", "Why", "Packages", "Last run", "Last error", "Next run", "Schedule"],
  repos.map(
    (r) =>
      html`<tr data-repo="${r.id}" data-state="${r.freshness.state}"><td><a href="${repositoryPath(r.id)}">${r.id}</a>${r.in_config ? "" : html` <span class="muted">(not in config)</span>`}${r.description ? html`<br><span class="muted">${r.description}</span>` : ""}</td><td>${r.type ?? ""}</td><td>${state(r.freshness.state, r.freshness.reason)}</td><td>${r.freshness.reason}</td><td class="num">${r.package_count}</td><td>${time(r.last_run?.started_at)} ${runStatus(r.last_run)}</td><td class="error">${r.last_run?.error ?? ""}</td><td>${nextRunCell(r)}</td><td>${r.schedule ? html`<code>${r.schedule}</code>` : html`<span class="muted">manual only</span>`}</td></tr>`,
  ),
  "no repositories configured",
)}`;
}

export function repositoryPage(r: Awaited<ReturnType<typeof repositoryJson>>): Html {
  const snaps = r.snapshots; // newest first
  const diffForm =
    snaps.length < 2
      ? html`<p class="muted">a diff needs two snapshots</p>`
      : html`<form method="get" action="${repositoryPath(r.id, "/diff")}">compare <select name="from">${snaps.map((s, i) => html`<option value="${s.name}"${i === 1 ? " selected" : ""}>${s.name}</option>`)}</select> with <select name="to">${snaps.map((s, i) => html`<option value="${s.name}"${i === 0 ? " selected" : ""}>${s.name}</option>`)}</select> <button type="submit">diff</button></form>`;
  return html`<table><tbody>
<tr><th>Freshness</th><td data-state="${r.freshness.state}">${state(r.freshness.state, r.freshness.reason)} ${r.freshness.reason}</td></tr>
<tr><th>Type</th><td>${r.type ?? ""}${r.enabled ? "" : " (disabled)"}</td></tr>
${r.description ? html`<tr><th>Description</th><td>${r.description}</td></tr>` : ""}
<tr><th>Upstream</th><td><code>${r.upstream_url ?? "(not in the configuration)"}</code></td></tr>
<tr><th>Packages</th><td>${r.package_count}</td></tr>
<tr><th>Last success</th><td>${time(r.freshness.last_success_at)}</td></tr>
<tr><th>Upstream timestamp</th><td>${time(r.freshness.upstream_timestamp)}</td></tr>
${r.freshness.valid_until ? html`<tr><th>Valid-Until</th><td>${time(r.freshness.valid_until)}</td></tr>` : ""}
<tr><th>Next run</th><td>${nextRunCell(r)} ${r.schedule ? html`<code>${r.schedule}</code>` : html`<span class="muted">manual only</span>`}</td></tr>
<tr><th>Groups</th><td>${r.groups.length ? r.groups.join(", ") : html`<span class="muted">none</span>`}</td></tr>
</tbody></table>
<h2>Snapshots</h2>
${diffForm}
${table(
  ["Snapshot", "Created", "Packages", "Size", "Published", ""],
  snaps.map(
    (s, i) =>
      html`<tr data-snapshot="${s.name}"><td>${s.name}</td><td>${time(s.created_at)}</td><td class="num">${s.package_count}</td><td class="num">${bytes(s.total_bytes)}</td><td>${s.published_at ? time(s.published_at) : "no"}</td><td>${snaps[i + 1] ? html`<a class="diff-previous" href="${repositoryPath(r.id, "/diff")}?${query({ from: snaps[i + 1]!.name, to: s.name })}">diff with ${snaps[i + 1]!.name}</a>` : ""}</td></tr>`,
  ),
  "no snapshots",
)}
<h2>Run history</h2>
${runsTable(r.runs, false)}`;
}

function diffRow(d: DiffRow): Html {
  return html`<tr class="${d.change}"><td>${d.name}</td><td>${d.arch}</td><td class="from">${d.from ?? ""}</td><td class="to">${d.to ?? ""}</td><td>${d.change}</td></tr>`;
}

export function diffPage(d: Awaited<ReturnType<typeof snapshotDiffJson>>): Html {
  return html`<p><a href="${repositoryPath(d.repository)}">${d.repository}</a>: ${d.counts.added} added, ${d.counts.removed} removed, ${d.counts.updated} updated</p>
<table class="diff"><thead><tr><th>Package</th><th>Arch</th><th>${d.from.name} <span class="muted">(${d.from.package_count} packages, ${time(d.from.created_at)})</span></th><th>${d.to.name} <span class="muted">(${d.to.package_count} packages, ${time(d.to.created_at)})</span></th><th>Change</th></tr></thead>
<tbody>${d.rows.length ? d.rows.map(diffRow) : html`<tr><td colspan="5" class="muted">the two snapshots hold the same packages</td></tr>`}</tbody></table>`;
}

export function runsPage(runs: RunJson[]): Html {
  return runsTable(runs, true);
}

export function groupsPage(g: Awaited<ReturnType<typeof groupsJson>>): Html {
  const envs = g.environments.length
    ? table(
        ["Environment", "Group", "Snapshot", "Promoted", "Members"],
        g.environments.flatMap((e) =>
          e.serves.length === 0
            ? [html`<tr data-environment="${e.environment}"><td>${e.environment}</td><td colspan="4" class="muted">serves nothing yet</td></tr>`]
            : e.serves.map(
                (s) =>
                  html`<tr data-environment="${e.environment}"><td>${e.environment}</td><td>${s.group}</td><td>${s.snapshot}</td><td>${time(s.promoted_at)}</td><td>${s.members.map((m) => html`<a href="${repositoryPath(m.repository)}">${m.repository}</a> <code>${m.snapshot}</code><br>`)}</td></tr>`,
              ),
        ),
        "",
      )
    : html`<p class="muted">no environments configured</p>`;
  const groups = table(
    ["Group", "Members", "Schedule", "Snapshots", "Newest snapshot"],
    g.groups.map(
      (x) =>
        html`<tr data-group="${x.id}"><td>${x.id}${x.description ? html`<br><span class="muted">${x.description}</span>` : ""}</td><td>${x.repositories.map((id, i) => html`${i ? ", " : ""}<a href="${repositoryPath(id)}">${id}</a>`)}</td><td>${x.schedule ? html`<code>${x.schedule}</code>` : html`<span class="muted">manual only</span>`}</td><td class="num">${x.snapshots.length}</td><td>${x.snapshots[0] ? html`${x.snapshots[0].name} (${time(x.snapshots[0].created_at)})` : html`<span class="muted">none</span>`}</td></tr>`,
    ),
    "no groups configured",
  );
  return html`<h2>Environments</h2>${envs}<h2>Groups</h2>${groups}`;
}

export function backupsPage(b: Awaited<ReturnType<typeof backupsJson>>): Html {
  return html`<p>target: <code>${b.target ?? "none"}</code></p>${b.error ? html`<p class="error">${b.error}</p>` : ""}
${table(
  ["Backup", "Created", "Size", "Packages", "DB version", "Status"],
  b.backups.map(
    (x) =>
      html`<tr><td>${x.name}</td><td>${time(x.created_at)}</td><td class="num">${bytes(x.size)}</td><td class="num">${x.packages ?? ""}</td><td>${x.database_version ?? ""}</td><td class="${x.valid ? "" : "error"}">${x.valid ? "ok" : `invalid: ${x.error}`}</td></tr>`,
  ),
  "no backups",
)}`;
}

export function poolPage(u: Awaited<ReturnType<typeof poolJson>>): Html {
  return html`<table><tbody>
<tr><th>Pool</th><td><code>${u.pool.location}</code>: ${bytes(u.pool.bytes)} in ${u.pool.blobs} blobs</td></tr>
<tr><th>Free on its filesystem</th><td>${u.freeBytes === null ? "–" : bytes(u.freeBytes)}</td></tr>
<tr><th>Referenced by any repository</th><td>${bytes(u.referenced.bytes)} in ${u.referenced.blobs} blobs</td></tr>
<tr><th>pool gc would free</th><td>${bytes(u.reclaimable.bytes)} in ${u.reclaimable.blobs} blobs (orphans older than ${u.protect_minutes} minutes)</td></tr>
</tbody></table>
<h2>Per repository</h2>
${table(
  ["Repository", "Current", "Snapshots only", "Shared", "Total"],
  u.repositories.map(
    (r) =>
      html`<tr><td><a href="${repositoryPath(r.repoId)}">${r.repoId}</a></td><td class="num">${bytes(r.current.bytes)}</td><td class="num">${bytes(r.snapshotsOnly.bytes)}</td><td class="num">${bytes(r.shared.bytes)}</td><td class="num">${bytes(r.total.bytes)}</td></tr>`,
  ),
  "no repositories in the database",
)}`;
}

export function schedulerPage(s: ReturnType<typeof schedulerJson>): Html {
  if (!s) return html`<p class="muted">no scheduler runs in this process</p>`;
  return html`<p>${s.running} running, ${s.queued} queued</p>${table(
    ["Job", "Next run"],
    s.next_runs.map((n) => html`<tr><td>${n.job}</td><td>${time(n.at)}</td></tr>`),
    "no schedules",
  )}`;
}

export function errorPage(status: number, message: string, generatedAt: Date): Html {
  return layout(status === 404 ? "Not found" : "Error", html`<p class="error">${message}</p>`, generatedAt);
}

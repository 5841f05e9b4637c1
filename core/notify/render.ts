// What a person reads: the subject, plain text and HTML of an event's mail and of the daily digest. Every string that
// came from outside (upstream errors, package names, advisory titles) is escaped in the HTML.
import { formatBytes } from "../backup/format.js";
import type { DigestReport } from "./digest.js";
import type { NotifyEvent } from "./events.js";

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** One header line: no CR/LF (nodemailer encodes the rest), at most 200 characters. */
function headerLine(s: string): string {
  const one = s.replace(/[\r\n\t]+/g, " ").trim();
  return one.length > 200 ? `${one.slice(0, 199)}…` : one;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function eventSubject(e: NotifyEvent): string {
  const test = e.test ? " (test)" : "";
  const repo = e.repository ?? "";
  switch (e.event) {
    case "sync.changed": {
      const c = e.changes!;
      const adv = c.advisories_count ? `, ${c.advisories_count} new advisor${c.advisories_count === 1 ? "y" : "ies"}` : "";
      return `[chantal] ${repo}: +${c.added_count} -${c.removed_count} ~${c.updated_count} packages${adv}${test}`;
    }
    case "sync.succeeded":
    case "sync.failed":
    case "sync.interrupted":
      return `[chantal] ${repo}: sync ${e.run?.status ?? e.event.slice(5)}${test}`;
    case "backup.succeeded":
    case "backup.failed":
      return `[chantal] backup ${e.event === "backup.failed" ? "failed" : "succeeded"}${test}`;
    default:
      return `[chantal] ${repo}: ${e.freshness?.state}${e.freshness?.previous ? ` (was ${e.freshness.previous})` : ""}${test}`;
  }
}

/** Lines of "key: value" and the lists of an event, as [label, value] rows and titled lists. */
function eventParts(e: NotifyEvent): { rows: [string, string][]; lists: { title: string; items: string[] }[] } {
  const rows: [string, string][] = [
    ["event", e.event],
    ["time", e.occurred_at],
    ["host", e.chantal.host],
  ];
  if (e.repository) rows.push(["repository", e.repository]);
  const lists: { title: string; items: string[] }[] = [];
  if (e.run) {
    const c = e.run.counts;
    rows.push(
      ["status", e.run.status],
      ["trigger", e.run.trigger],
      ["duration", seconds(e.run.duration_ms)],
      [
        "packages",
        `${c.packages_total} (${c.packages_added} added, ${c.packages_removed} removed, ${c.packages_downloaded} downloaded, ${formatBytes(c.bytes_downloaded)})`,
      ],
    );
    if (e.run.snapshot) rows.push(["snapshot", e.run.snapshot]);
    if (e.run.error) rows.push(["error", e.run.error]);
  }
  if (e.changes) {
    const c = e.changes;
    const more = (shown: number, total: number) => (total > shown ? [`… and ${total - shown} more`] : []);
    if (c.added_count)
      lists.push({
        title: `added (${c.added_count})`,
        items: [...c.added.map((p) => `${p.name}-${p.version}.${p.arch}`), ...more(c.added.length, c.added_count)],
      });
    if (c.updated_count)
      lists.push({
        title: `updated (${c.updated_count})`,
        items: [
          ...c.updated.map((u) => `${u.name}.${u.arch}: ${u.from} -> ${u.to}${u.direction === "downgrade" ? " (downgrade)" : ""}`),
          ...more(c.updated.length, c.updated_count),
        ],
      });
    if (c.removed_count)
      lists.push({
        title: `removed (${c.removed_count})`,
        items: [...c.removed.map((p) => `${p.name}-${p.version}.${p.arch}`), ...more(c.removed.length, c.removed_count)],
      });
    if (c.advisories?.length)
      lists.push({
        title: `new advisories (${c.advisories_count})`,
        items: [
          ...c.advisories.map((a) => `${a.id} [${a.severity ?? "no severity"}${a.type ? `, ${a.type}` : ""}] ${a.title ?? ""}`.trim()),
          ...more(c.advisories.length, c.advisories_count ?? 0),
        ],
      });
  }
  if (e.freshness) rows.push(["state", e.freshness.state], ["previous", e.freshness.previous ?? "(none announced)"], ["reason", e.freshness.reason]);
  if (e.backup) {
    rows.push(["status", e.backup.status], ["duration", seconds(e.backup.duration_ms)]);
    if (e.backup.location) rows.push(["location", e.backup.location], ["size", formatBytes(e.backup.size_bytes)]);
    if (e.backup.error) rows.push(["error", e.backup.error]);
  }
  return { rows, lists };
}

function textOf(rows: [string, string][], lists: { title: string; items: string[] }[], footer: string): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  const out = rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`);
  for (const l of lists) out.push("", `${l.title}:`, ...l.items.map((i) => `  ${i}`));
  out.push("", footer);
  return `${out.join("\n")}\n`;
}

function htmlOf(title: string, rows: [string, string][], lists: { title: string; items: string[] }[], footer: string): string {
  const table = rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("");
  const body = lists.map((l) => `<h3>${escapeHtml(l.title)}</h3><ul>${l.items.map((i) => `<li><code>${escapeHtml(i)}</code></li>`).join("")}</ul>`).join("");
  return `<!DOCTYPE html><html><body><h2>${escapeHtml(title)}</h2><table>${table}</table>${body}<p><small>${escapeHtml(footer)}</small></p></body></html>`;
}

const FOOTER = "Sent by Chantal (notify.email in its configuration).";

export function renderEventMail(e: NotifyEvent): RenderedMail {
  const subject = headerLine(eventSubject(e));
  const { rows, lists } = eventParts(e);
  return { subject, text: textOf(rows, lists, FOOTER), html: htmlOf(subject, rows, lists, FOOTER) };
}

export function renderDigestMail(d: DigestReport): RenderedMail {
  const notOk = d.repositories.filter((r) => r.state !== "ok").length;
  const subject = headerLine(
    `[chantal] daily digest: ${d.repositories.length} repositor${d.repositories.length === 1 ? "y" : "ies"}${notOk ? `, ${notOk} not ok` : ", all ok"}`,
  );
  const rows: [string, string][] = [
    ["host", d.host],
    ["period", `${d.since} to ${d.until}`],
  ];
  const lists = d.repositories.map((r) => {
    const items = [`state: ${r.state} (${r.reason})`, `last success: ${r.last_success_at ?? "never"}`, `packages: ${r.packages}`];
    const runs = r.runs;
    items.push(
      runs.total === 0
        ? "runs in the period: none"
        : `runs in the period: ${runs.total} (${runs.success} changed, ${runs.noop} unchanged, ${runs.failed} failed, ${runs.interrupted} interrupted); +${r.packages_added} -${r.packages_removed} packages`,
    );
    if (r.snapshots.length) items.push(`snapshots: ${r.snapshots.join(", ")}`);
    if (r.last_error) items.push(`last error: ${r.last_error}`);
    return { title: `${r.repo_id}: ${r.state}`, items };
  });
  if (d.backups) lists.push({ title: "backups", items: [d.backups] });
  const footer = `${FOOTER} The digest is notify.email.digest: daily.`;
  return { subject, text: textOf(rows, lists, footer), html: htmlOf(subject, rows, lists, footer) };
}

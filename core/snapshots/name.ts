// Snapshot names: from a template ({date} {time} {datetime} {repo_id}), safe as a directory name.
import { ChantalError } from "../errors.js";

export class SnapshotNameError extends ChantalError {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkSnapshotName(name: string): string {
  if (!NAME.test(name)) throw new SnapshotNameError(`snapshot name "${name}" must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  return name;
}

function parts(now: Date, timeZone?: string): { date: string; time: string } {
  const f = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  const p = Object.fromEntries(f.formatToParts(now).map((x) => [x.type, x.value]));
  return { date: `${p.year}${p.month}${p.day}`, time: `${p.hour}${p.minute}${p.second}` };
}

/** `rhel9-{date}` -> `rhel9-20261126`; times are in the given zone (default UTC). */
export function snapshotNameFromTemplate(template: string, vars: { repoId: string; now: Date; timeZone?: string }): string {
  const { date, time } = parts(vars.now, vars.timeZone ?? "UTC");
  const name = template.replace(/\{(date|time|datetime|repo_id)\}/g, (_, key: string) =>
    key === "date" ? date : key === "time" ? time : key === "datetime" ? `${date}-${time}` : vars.repoId,
  );
  const unknown = /\{[^}]*\}/.exec(name);
  if (unknown)
    throw new SnapshotNameError(`snapshot name template "${template}" has an unknown placeholder ${unknown[0]} (known: {date} {time} {datetime} {repo_id})`);
  return checkSnapshotName(name);
}

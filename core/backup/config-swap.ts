// The restore's swap of the configuration directory: staged beside it, swapped by two renames under a journal, so a
// process killed between them is completed (or undone) by the next command instead of leaving no configuration.
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ChantalError, errorMessage } from "../errors.js";
import { ownedName, sweepLeftovers } from "../leftovers.js";
import { compactTimestamp } from "./naming.js";
import { fsyncPath } from "../storage/durable.js";

interface Journal {
  /** The staged (restored) directory that becomes the configuration directory. */
  staged: string;
  /** Where the previous configuration directory goes (absent on a bare host). */
  movedTo?: string;
  at: string;
}

function stagingStem(dir: string): string {
  return `.${basename(dir)}.restore`;
}

export function journalPath(configDir: string): string {
  const dir = resolve(configDir);
  return join(dirname(dir), `.${basename(dir)}.restore-journal.json`);
}

const exists = async (p: string) => (await stat(p).catch(() => undefined)) !== undefined;

/** A new empty directory beside the config directory for the restored files; stagings of dead restores are removed. */
export async function makeConfigStaging(configDir: string): Promise<string> {
  const dir = resolve(configDir);
  await mkdir(dirname(dir), { recursive: true });
  const stem = stagingStem(dir);
  await sweepLeftovers(dirname(dir), (n) => n.startsWith(`${stem}~`) || n.startsWith(`${stem}-`));
  const staged = join(dirname(dir), ownedName(stem));
  await mkdir(staged, { mode: 0o700 });
  return staged;
}

/** Move the existing config directory to <dir>.backup-YYYYMMDD-HHMMSS and the staged one into its place. */
export async function swapConfigDir(configDir: string, staged: string, now: Date): Promise<{ movedTo?: string }> {
  const dir = resolve(configDir);
  const existing = await stat(dir).catch(() => undefined);
  let movedTo: string | undefined;
  if (existing) {
    await chmod(staged, existing.mode & 0o7777);
    const base = `${dir}.backup-${compactTimestamp(now)}`;
    movedTo = base;
    for (let i = 2; await exists(movedTo); i++) movedTo = `${base}-${i}`;
  } else {
    await chmod(staged, 0o750);
  }
  const journal: Journal = { staged, ...(movedTo ? { movedTo } : {}), at: now.toISOString() };
  await writeFile(journalPath(dir), JSON.stringify(journal) + "\n", { mode: 0o600, flush: true });
  await fsyncPath(dirname(dir));
  try {
    if (movedTo) await rename(dir, movedTo);
    await rename(staged, dir);
    await fsyncPath(dirname(dir));
  } catch (err) {
    if (movedTo && !(await exists(dir))) await rename(movedTo, dir).catch(() => undefined);
    await rm(journalPath(dir), { force: true });
    throw new ChantalError(`cannot move the restored configuration into ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  await rm(journalPath(dir), { force: true });
  return movedTo ? { movedTo } : {};
}

export async function removeStaging(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/**
 * Finish a swap that a killed restore left half done (its database was already restored): the staged directory is
 * moved into place, or, if it is gone, the previous one is moved back. Returns what happened, for a warning; null when
 * there was nothing to do.
 */
export async function completeInterruptedSwap(configDir: string): Promise<string | null> {
  const dir = resolve(configDir);
  let journal: Journal;
  try {
    journal = JSON.parse(await readFile(journalPath(dir), "utf8")) as Journal;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    await rm(journalPath(dir), { force: true });
    return `removed an unreadable restore journal ${journalPath(dir)} (${errorMessage(err)})`;
  }
  let what: string | null = null;
  if (!(await exists(dir))) {
    if (await exists(journal.staged)) {
      await rename(journal.staged, dir);
      what = `a restore at ${journal.at} was interrupted while swapping the configuration directory; the restored configuration is now in ${dir}${journal.movedTo ? ` (the previous one is in ${journal.movedTo})` : ""}`;
    } else if (journal.movedTo && (await exists(journal.movedTo))) {
      await rename(journal.movedTo, dir);
      what = `a restore at ${journal.at} was interrupted while swapping the configuration directory and its staged copy is gone; the previous configuration was moved back into ${dir}`;
    }
    await fsyncPath(dirname(dir));
  }
  await rm(journalPath(dir), { force: true });
  return what;
}

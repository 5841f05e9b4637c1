// Environments in an S3 bucket, planned: the state document (what each member serves now and served before) and
// what one switch copies, in which phase, and deletes. Pure functions, unit-tested; s3-tree.ts does the requests.
//
//   <prefix>/published/<env>/<repo-id>/<path>     each member's tree, copied from the pool (S3 has no links)
//   <prefix>/environments/<env>.json              the state document (not served)
//
// A switch copies every changed member's data files at new paths first (no live index names them), then, member
// after member, its rewritten data files and its index files (repomd.xml, InRelease/Release last); then the state
// document; then it deletes what neither the new state nor the one before it uses, so a client that read the
// previous index can still finish its downloads until the next switch.
import type { TreeEntry } from "../db/package-sets.js";
import { isIndexPath, indexRank, treeFiles, type TreeFile } from "../storage/s3-layout.js";

const DOC_FORMAT = 1;

function joinKey(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/");
}

/** `<prefix>/published/<env>/<repo-id>/`: beside the repositories' own trees, as <published>/<env>/ on a filesystem. */
export function environmentTreePrefix(prefix: string, environment: string, repoId: string): string {
  return `${joinKey(prefix, "published", environment, repoId)}/`;
}

/** `<prefix>/published/<env>/`. */
export function environmentPrefix(prefix: string, environment: string): string {
  return `${joinKey(prefix, "published", environment)}/`;
}

export function environmentDocKey(prefix: string, environment: string): string {
  return joinKey(prefix, "environments", `${environment}.json`);
}

export interface MemberState {
  snapshot: string;
  /** path -> sha256 of every key of the member's tree in this state. */
  files: Map<string, string>;
}

export interface EnvironmentDoc {
  /** What each member serves now. */
  current: Map<string, MemberState>;
  /** What each member served before its last switch: kept for clients mid-download, deleted at its next switch. */
  previous: Map<string, MemberState>;
  /** Paths a switch was rewriting when it wrote this document (their content is unknown): the member is re-switched. */
  unknown: Map<string, Set<string>>;
}

export function emptyDoc(): EnvironmentDoc {
  return { current: new Map(), previous: new Map(), unknown: new Map() };
}

function statesToJson(m: ReadonlyMap<string, MemberState>): Record<string, { snapshot: string; files: Record<string, string> }> {
  const sorted = [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(
    sorted.map(([repo, s]) => [repo, { snapshot: s.snapshot, files: Object.fromEntries([...s.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) }]),
  );
}

export function serializeDoc(doc: EnvironmentDoc): Buffer {
  const unknown = Object.fromEntries([...doc.unknown].filter(([, s]) => s.size > 0).map(([repo, s]) => [repo, [...s].sort()]));
  return Buffer.from(JSON.stringify({ format: DOC_FORMAT, current: statesToJson(doc.current), previous: statesToJson(doc.previous), unknown }));
}

function statesFromJson(v: unknown): Map<string, MemberState> {
  const out = new Map<string, MemberState>();
  if (!v || typeof v !== "object") return out;
  for (const [repo, s] of Object.entries(v as Record<string, unknown>)) {
    const state = s as { snapshot?: unknown; files?: unknown };
    if (typeof state?.snapshot !== "string" || !state.files || typeof state.files !== "object") continue;
    const files = new Map(Object.entries(state.files as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string"));
    out.set(repo, { snapshot: state.snapshot, files });
  }
  return out;
}

/**
 * A document we cannot read counts as empty: every member is then copied again (each key is overwritten before it
 * is trusted) and whatever no state names is deleted, so a lost document costs copies, never a wrong file.
 */
export function parseDoc(data: Buffer | undefined): EnvironmentDoc {
  if (!data) return emptyDoc();
  try {
    const doc = JSON.parse(data.toString("utf8")) as { format?: unknown; current?: unknown; previous?: unknown; unknown?: unknown };
    if (doc.format !== DOC_FORMAT) return emptyDoc();
    const unknown = new Map<string, Set<string>>();
    if (doc.unknown && typeof doc.unknown === "object")
      for (const [repo, paths] of Object.entries(doc.unknown as Record<string, unknown>))
        if (Array.isArray(paths)) unknown.set(repo, new Set(paths.filter((p): p is string => typeof p === "string")));
    return { current: statesFromJson(doc.current), previous: statesFromJson(doc.previous), unknown };
  } catch {
    return emptyDoc();
  }
}

/** What a member's key holds, as far as the document knows: the current state's content, else the previous one's. */
export function heldContent(doc: EnvironmentDoc, repoId: string, path: string): string | undefined {
  if (doc.unknown.get(repoId)?.has(path)) return undefined;
  return doc.current.get(repoId)?.files.get(path) ?? doc.previous.get(repoId)?.files.get(path);
}

/** One member's part of a switch. */
export interface MemberPlan {
  repoId: string;
  /** The state it will serve; null: it leaves the environment (its index files are deleted, its data kept one switch). */
  target: MemberState | null;
  /** The member is brought back to the state it already serves (keys lost or of unknown content): its previous state stays previous. */
  repair: boolean;
  /** Phase 1 (all members, in parallel): data files at paths the member's tree does not have. */
  data: TreeFile[];
  /** Phase 2, this member's turn: data files at paths it has, with other or unknown content (the one short window). */
  replaced: TreeFile[];
  /** Phase 2, after its replaced files, one at a time in this order (the top-level index last). */
  indexes: TreeFile[];
  /** Phase 2 of a member that leaves: its index keys, deleted top-level first. */
  indexDeletes: string[];
  /** After the state document: keys neither the target nor the state before the switch uses. */
  stale: string[];
  unchanged: number;
}

/**
 * One member's switch: `files` is the target tree (null when the member leaves), `present` the keys now under its
 * prefix (relative), `doc` the state document before the switch.
 */
export function planMember(
  repoId: string,
  target: { snapshot: string; entries: readonly TreeEntry[] } | null,
  present: ReadonlySet<string>,
  doc: EnvironmentDoc,
): MemberPlan {
  const current = doc.current.get(repoId);
  const repair = target !== null && current?.snapshot === target.snapshot;
  // A repair keeps what it kept before (the current and the previous state); a switch keeps the state it leaves.
  const keep = new Set([...(current?.files.keys() ?? []), ...(repair ? (doc.previous.get(repoId)?.files.keys() ?? []) : [])]);
  const plan: MemberPlan = { repoId, target: null, repair, data: [], replaced: [], indexes: [], indexDeletes: [], stale: [], unchanged: 0 };
  if (target === null) {
    const rank = (p: string) => indexRank(p)!;
    plan.indexDeletes = [...present].filter(isIndexPath).sort((a, b) => rank(b) - rank(a));
    plan.stale = [...present].filter((p) => !isIndexPath(p) && !keep.has(p)).sort();
    return plan;
  }
  const files = treeFiles(target.entries);
  plan.target = { snapshot: target.snapshot, files };
  for (const [path, sha256] of files) {
    if (present.has(path) && heldContent(doc, repoId, path) === sha256) {
      plan.unchanged++;
      continue;
    }
    (isIndexPath(path) ? plan.indexes : present.has(path) ? plan.replaced : plan.data).push({ path, sha256 });
  }
  const byPath = (a: TreeFile, b: TreeFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  plan.data.sort(byPath);
  plan.replaced.sort(byPath);
  plan.indexes.sort((a, b) => indexRank(a.path)! - indexRank(b.path)!);
  plan.stale = [...present].filter((p) => !files.has(p) && !keep.has(p)).sort();
  return plan;
}

/** Whether a member must be switched: it serves another snapshot, or a killed switch left keys of unknown content. */
export function needsSwitch(doc: EnvironmentDoc, repoId: string, snapshot: string): boolean {
  return doc.current.get(repoId)?.snapshot !== snapshot || (doc.unknown.get(repoId)?.size ?? 0) > 0;
}

/** The document while the copies run: the states as they were, every path being written marked unknown. */
export function interimDoc(doc: EnvironmentDoc, plans: readonly MemberPlan[]): EnvironmentDoc {
  const unknown = new Map([...doc.unknown].map(([repo, s]) => [repo, new Set(s)]));
  for (const p of plans) {
    const set = unknown.get(p.repoId) ?? new Set<string>();
    for (const f of [...p.data, ...p.replaced, ...p.indexes]) set.add(f.path);
    unknown.set(p.repoId, set);
  }
  return { current: doc.current, previous: doc.previous, unknown };
}

/**
 * The document once every member is switched: each switched member's current state becomes its previous one
 * (not when it is repaired to the state it serves);
 * members that left keep only their previous state; `dropped` members (left at an earlier switch) are forgotten.
 */
export function finalDoc(doc: EnvironmentDoc, plans: readonly MemberPlan[], dropped: readonly string[]): EnvironmentDoc {
  const current = new Map(doc.current);
  const previous = new Map(doc.previous);
  const unknown = new Map(doc.unknown);
  for (const p of plans) {
    const was = doc.current.get(p.repoId);
    if (was && !p.repair) previous.set(p.repoId, was);
    if (p.target) current.set(p.repoId, p.target);
    else current.delete(p.repoId);
    unknown.delete(p.repoId);
  }
  for (const repo of dropped) {
    current.delete(repo);
    previous.delete(repo);
    unknown.delete(repo);
  }
  return { current, previous, unknown };
}

/** Members that left the environment at an earlier switch and are not coming back now: their remaining keys go. */
export function droppedMembers(doc: EnvironmentDoc, served: ReadonlySet<string>): string[] {
  return [...new Set([...doc.previous.keys(), ...doc.unknown.keys()])].filter((r) => !doc.current.has(r) && !served.has(r)).sort();
}

// Debian package relations (Depends, Pre-Depends, Provides) of untrusted Packages stanzas, as the filter's Requirement/Capability.
import { ChantalError } from "../errors.js";
import type { Capability, Requirement, VersionOp } from "../filter/types.js";
import { parseDebianVersion } from "./version.js";

export class DependsError extends ChantalError {}

/** Limits on one field: Debian's longest Depends is a few KiB; a field built to exhaust memory is refused. */
export const MAX_RELATION_FIELD_CHARS = 256 * 1024;
export const MAX_RELATIONS_PER_FIELD = 4096;
export const MAX_ALTERNATIVES = 256;

/** dpkg's relation operators; `<` and `>` are the obsolete spellings of `<=` and `>=` (deb-control(5)). */
const OPS: Record<string, VersionOp> = { "<<": "<", "<=": "<=", "=": "=", ">=": ">=", ">>": ">", "<": "<=", ">": ">=" };

/** A package name (deb-control(5): lower-case letters, digits, + - .), optionally `:arch` qualified. */
const NAME = /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?$/;
/** `(op version)`: a version is of the characters deb-version(7) allows; parseDebianVersion checks its shape. */
const CONSTRAINT = /^\(\s*(<<|<=|>=|>>|=|<|>)\s*([0-9A-Za-z.+~:-]+)\s*\)$/;

/** Drops `[arch ...]` and `<profile ...>` restrictions (they belong in build relations; tolerated in binary Packages). */
function stripRestrictions(text: string): string {
  return text.replace(/\[[^\]]*\]/g, " ").replace(/<[^<>()]*>/g, " ");
}

function capabilityOf(text: string, where: () => string): Capability {
  const t = stripRestrictions(text).trim();
  const open = t.indexOf("(");
  const namePart = (open === -1 ? t : t.slice(0, open)).trim();
  const m = NAME.exec(namePart);
  if (!m) throw new DependsError(`${where()}: ${JSON.stringify(namePart.slice(0, 80))} is not a package name`);
  if (open === -1) return { name: m[1]! };
  const c = CONSTRAINT.exec(t.slice(open).trim());
  if (!c) throw new DependsError(`${where()}: malformed version constraint ${JSON.stringify(t.slice(open, open + 80))}`);
  try {
    return { name: m[1]!, op: OPS[c[1]!]!, version: parseDebianVersion(c[2]!) };
  } catch (err) {
    throw new DependsError(`${where()}: ${(err as Error).message}`);
  }
}

function relationsOf(text: string, field: string, label: string): string[] {
  if (text.length > MAX_RELATION_FIELD_CHARS)
    throw new DependsError(`${label}: its ${field} field is longer than ${MAX_RELATION_FIELD_CHARS} characters (the limit)`);
  // Continuation lines are joined as the field's value; a relation list has no meaning in line breaks.
  const parts = text.replace(/\s+/g, " ").split(",");
  const out = parts.map((p) => p.trim()).filter((p) => p !== "");
  if (out.length > MAX_RELATIONS_PER_FIELD)
    throw new DependsError(`${label}: its ${field} field lists more than ${MAX_RELATIONS_PER_FIELD} relations (the limit)`);
  return out;
}

/** A Depends or Pre-Depends value: `a (>= 1.2) | b:any, c [amd64] <!nocheck>` as requirements, each with its alternatives. */
export function parseRelations(text: string, field: string, label: string): Requirement[] {
  return relationsOf(text, field, label).map((relation) => {
    const alts = relation.split("|");
    if (alts.length > MAX_ALTERNATIVES)
      throw new DependsError(
        `${label}: a ${field} relation has more than ${MAX_ALTERNATIVES} alternatives (the limit): ${JSON.stringify(relation.slice(0, 80))}`,
      );
    const where = () => `${label}: ${field} ${JSON.stringify(relation.slice(0, 120))}`;
    return { alternatives: alts.map((a) => capabilityOf(a, where)), text: relation };
  });
}

/** A Provides value: virtual names, each with an optional `(= version)` (no other operator is allowed there). */
export function parseProvides(text: string, label: string): Capability[] {
  return relationsOf(text, "Provides", label).map((relation) => {
    const where = () => `${label}: Provides ${JSON.stringify(relation.slice(0, 120))}`;
    if (relation.includes("|")) throw new DependsError(`${where()}: alternatives are not allowed in Provides`);
    const cap = capabilityOf(relation, where);
    if (cap.op !== undefined && cap.op !== "=") throw new DependsError(`${where()}: only "=" versions are allowed in Provides`);
    return cap;
  });
}

/** What one binary package needs: Pre-Depends, then Depends (both must be satisfied for it to install). */
export function requirementsOf(fields: { depends?: string; preDepends?: string }, label: string): Requirement[] {
  return [
    ...(fields.preDepends ? parseRelations(fields.preDepends, "Pre-Depends", label) : []),
    ...(fields.depends ? parseRelations(fields.depends, "Depends", label) : []),
  ];
}

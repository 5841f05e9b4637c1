// The backup manifest in --json output: printed as the archive stores it, its data-keyed maps left as they are.
import type { Manifest } from "../core/backup/manifest.js";
import { dataKeyed } from "./output.js";

/** `tables` is keyed by table name and `members` by archive member path: those keys are data, not field names. */
export function jsonManifest(m: Manifest): Manifest {
  return { ...m, tables: dataKeyed({ ...m.tables }), members: dataKeyed({ ...m.members }) };
}

// have.json, the receiver's inventory (`import inventory` writes it, `export create --have` reads it): which blobs it holds.
import { z } from "zod";
import { BundleInvalidError } from "./manifest.js";

export const INVENTORY_FORMAT = "chantal-inventory";
/** An inventory of 1,000,000 blobs is ~70 MB; more than this is not one of ours. */
export const MAX_INVENTORY_BYTES = 256 * 1024 * 1024;

export const InventorySchema = z.strictObject({
  format: z.literal(INVENTORY_FORMAT),
  /** The receiving installation (its chantal.instance id). */
  instance_id: z.uuid(),
  /** When it was taken, ISO-8601 with offset. */
  created_at: z.iso.datetime({ offset: true }),
  /** Every sha256 the receiver's database records as a package or metadata file (so its pool holds it), sorted. */
  blobs: z.array(z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase sha256 hex digest")),
});

export type Inventory = z.output<typeof InventorySchema>;

/** The bytes of have.json: sorted keys, blobs sorted and unique, one per line; the same inventory gives the same bytes. */
export function serializeInventory(inventory: Inventory): Buffer {
  const { blobs, created_at, format, instance_id } = inventory;
  return Buffer.from(`${JSON.stringify({ blobs: [...new Set(blobs)].sort(), created_at, format, instance_id }, null, 2)}\n`);
}

/** Parse have.json (untrusted: it travels from the other side); `where` names the file in errors. Throws BundleInvalidError (exit 65). */
export function parseInventory(bytes: Buffer, where: string): Inventory {
  if (bytes.length > MAX_INVENTORY_BYTES)
    throw new BundleInvalidError(`${where}: ${bytes.length} bytes, more than the ${MAX_INVENTORY_BYTES} an inventory may have`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new BundleInvalidError(`${where}: not valid JSON: ${(err as Error).message}`);
  }
  if ((raw as { format?: unknown } | null)?.format !== INVENTORY_FORMAT)
    throw new BundleInvalidError(
      `${where}: not a Chantal inventory (format is not "${INVENTORY_FORMAT}"); write one with \`chantal import inventory > have.json\``,
    );
  const parsed = InventorySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BundleInvalidError(`${where}: invalid at ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

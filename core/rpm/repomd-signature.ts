// repomd.xml.asc made with the mirror's own key, for regenerated metadata and for re-signed verbatim trees.
import type { MetadataEntry } from "../mirror/commit.js";
import type { RepoSyncContext } from "../mirror/types.js";
import { putBuffer } from "../storage/put-buffer.js";

export const REPOMD_SIGNATURE = "repodata/repomd.xml.asc";

/**
 * Our detached signature of `repomdBytes`, or undefined without a signer. The one place that decides what an
 * unsigned curated tree means: today a warning (the signing configuration may make it an error).
 */
export async function repomdSignature(ctx: RepoSyncContext, repomdBytes: Buffer, why: "regenerated" | "resigned"): Promise<MetadataEntry | undefined> {
  if (!ctx.signer) {
    if (why === "regenerated")
      ctx.log.warn({ repo: ctx.repo.id }, "filtered repository published with unsigned regenerated metadata (no signing key configured)");
    return undefined;
  }
  const armored = await ctx.signer.signDetached(repomdBytes);
  return { path: REPOMD_SIGNATURE, ...(await putBuffer(ctx.blobs, Buffer.from(armored, "utf8"))) };
}

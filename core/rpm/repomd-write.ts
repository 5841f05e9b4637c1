// repomd.xml of a curated mirror, written from our own data files: sha256 checksums, sizes, upstream's timestamps
// and revision (the same input gives the same bytes).
export interface RepomdEntry {
  type: string;
  location: string;
  sha256: string;
  size: number;
  /** Of the uncompressed file, when known (a file kept verbatim may have only upstream's declared one). */
  openChecksum?: { algo: string; value: string };
  openSize?: number;
  timestamp: number;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function writeRepomd(revision: string | undefined, entries: readonly RepomdEntry[]): Buffer {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">',
    ...(revision !== undefined ? [`  <revision>${escapeXml(revision)}</revision>`] : []),
  ];
  for (const e of entries) {
    lines.push(`  <data type="${escapeXml(e.type)}">`);
    lines.push(`    <checksum type="sha256">${e.sha256}</checksum>`);
    if (e.openChecksum) lines.push(`    <open-checksum type="${escapeXml(e.openChecksum.algo)}">${escapeXml(e.openChecksum.value)}</open-checksum>`);
    lines.push(`    <location href="${escapeXml(e.location)}"/>`);
    lines.push(`    <timestamp>${e.timestamp}</timestamp>`);
    lines.push(`    <size>${e.size}</size>`);
    if (e.openSize !== undefined) lines.push(`    <open-size>${e.openSize}</open-size>`);
    lines.push("  </data>");
  }
  lines.push("</repomd>", "");
  return Buffer.from(lines.join("\n"), "utf8");
}

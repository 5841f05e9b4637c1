// Backup file names: chantal-backup-YYYYMMDD-HHMMSS.tar[.gz] (.encrypted.tar), in UTC so that names sort by time and never repeat across DST.

export const BACKUP_NAME_PREFIX = "chantal-backup-";

/** YYYYMMDD-HHMMSS of a date in UTC. */
export function compactTimestamp(date: Date): string {
  const iso = date.toISOString(); // 2024-05-01T03:30:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export function archiveExtension(compress: boolean): ".tar.gz" | ".tar" {
  return compress ? ".tar.gz" : ".tar";
}

/** An encrypted backup is a plain tar around the ciphertext: chantal-backup-YYYYMMDD-HHMMSS.encrypted.tar. */
export function backupFileName(date: Date, compress: boolean, encrypted = false): string {
  return `${BACKUP_NAME_PREFIX}${compactTimestamp(date)}${encrypted ? ".encrypted.tar" : archiveExtension(compress)}`;
}

/** Files a backup listing considers: every tar archive, so that a broken or foreign one is shown as invalid, not hidden. */
export function isArchiveName(name: string): boolean {
  return !name.startsWith(".") && /\.(tar|tar\.gz|tgz)$/.test(name);
}

/** The time in a chantal-backup-YYYYMMDD-HHMMSS name, or null. */
export function dateFromBackupName(name: string): Date | null {
  const m = /^chantal-backup-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(\.encrypted)?\.tar(\.gz)?$/.exec(name);
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? null : d;
}

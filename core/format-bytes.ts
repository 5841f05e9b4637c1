// Sizes for people: 1234567 -> "1.2 MB", the one formatter of the CLI's tables and the dashboard's pages.

/** 1234567 -> "1.2 MB" (decimal units, as df -H and S3 consoles show them). */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

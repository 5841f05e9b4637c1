// Every connection of this process carries "#<pid>" in its application_name, so the embedded server's
// last-client check can ignore our own connections that are still closing.
const MAX = 63;

export function applicationName(purpose: string): string {
  const suffix = `#${process.pid}`;
  return `${purpose.slice(0, MAX - suffix.length)}${suffix}`;
}

export function ownConnectionsPattern(pid = process.pid): string {
  return `%#${pid}`;
}

// Durability on the filesystem: a rename or a new file survives a power loss only once its directory is fsynced.
import { open } from "node:fs/promises";

/** fsync a directory, so the names created or renamed in it are on disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// A separate process that takes a repository lock, says "locked" on stdout, and holds it until killed or stdin closes.
import { acquireLock, repositoryLockRequest } from "../../core/db/locks.js";

const [url, key, purpose] = process.argv.slice(2);
const lock = await acquireLock(url!, repositoryLockRequest(Number(key), purpose ?? "test-holder", { waitMs: Number(process.env.WAIT_MS ?? 0) }));
process.stdout.write("locked\n");
lock.signal.addEventListener("abort", () => {
  process.stdout.write(`lost: ${(lock.signal.reason as Error).message}\n`);
  process.exit(3);
});
process.stdin.resume();
process.stdin.on("end", async () => {
  await lock.release();
  process.exit(0);
});

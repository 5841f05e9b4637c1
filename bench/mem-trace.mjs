// Preloaded into Chantal by `npm run bench -- --mem-trace` (node --import): every thread, workers included, appends its
// process.memoryUsage() every 100 ms to $CHANTAL_MEM_TRACE.<main|workerN>: "epoch-ms rss heapTotal heapUsed external
// arrayBuffers" (MB; rss is the process's, the heap figures the thread's own V8 heap).
import { appendFileSync } from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { isMainThread, threadId } from "node:worker_threads";

const base = process.env.CHANTAL_MEM_TRACE;
if (base) {
  const file = `${base}.${isMainThread ? "main" : `worker${threadId}`}`;
  const mb = (n) => (n / 1048576).toFixed(1);
  const sample = () => {
    const m = process.memoryUsage();
    appendFileSync(file, `${Date.now()} ${mb(m.rss)} ${mb(m.heapTotal)} ${mb(m.heapUsed)} ${mb(m.external)} ${mb(m.arrayBuffers)}\n`);
  };
  sample();
  setInterval(sample, 100).unref();
  if (isMainThread) {
    // --import does not run in worker threads: a worker started from a file first loads this module, then its own.
    const wt = createRequire(import.meta.url)("node:worker_threads");
    const Original = wt.Worker;
    wt.Worker = class extends Original {
      constructor(entry, options = {}) {
        if (options.eval || !(entry instanceof URL)) super(entry, options);
        else super(`import(${JSON.stringify(import.meta.url)}).then(() => import(${JSON.stringify(entry.href)}))`, { ...options, eval: true });
      }
    };
    syncBuiltinESMExports();
  }
}

// `chantal-run notify test`: send a sample event (or today's digest) to every configured webhook and e-mail target and say how each fared.
import type { Command } from "commander";
import { NOTIFY_EVENTS, type NotifyEventName } from "../../core/config/schema.js";
import { ConfigError, ExitCode, UsageError } from "../../core/errors.js";
import { buildDigest } from "../../core/notify/digest.js";
import { sampleEvent } from "../../core/notify/events.js";
import { notifierFor, type TargetOutcome } from "../../core/notify/notifier.js";
import { blobStoreOf } from "../../core/storage/backend.js";
import { action } from "../context.js";
import { printJson } from "../output.js";

interface TestOptions {
  event: string;
  digest?: boolean;
  json?: boolean;
}

export function register(notify: Command): void {
  notify
    .command("test")
    .description("send a sample event to every configured target (whatever events it asked for), or with --digest the daily digest to notify.email")
    .option("--event <name>", `the sample's event: ${NOTIFY_EVENTS.join(", ")}`, "sync.failed")
    .option("--digest", "send the daily digest of now (read from the database) to notify.email instead")
    .option("--json", "print each target's outcome as JSON")
    .action(
      action(async (ctx, opts: TestOptions) => {
        if (!(NOTIFY_EVENTS as readonly string[]).includes(opts.event))
          throw new UsageError(`--event: "${opts.event}" is not an event; use one of ${NOTIFY_EVENTS.join(", ")}`);
        const loaded = await ctx.loadConfig();
        const notifier = notifierFor(loaded.config, { log: ctx.log, configDir: loaded.dir });
        if (!notifier)
          throw new ConfigError([
            { file: loaded.files.join(", ") || "config.yaml", path: "notify", message: "has no target: add notify.webhooks or notify.email" },
          ]);
        let outcomes: TargetOutcome[];
        if (opts.digest) {
          if (!loaded.config.notify?.email)
            throw new ConfigError([{ file: loaded.files.join(", "), path: "notify.email", message: "is not set: the digest is an e-mail" }]);
          const database = await ctx.openDatabase();
          const config = loaded.config;
          const report = await buildDigest(database.pool, blobStoreOf(config), config, new Date(), (m) => ctx.log.warn(m));
          const sent = await notifier.sendDigest(report, { evenWithoutDigest: true });
          outcomes = sent ? [sent] : [];
        } else {
          outcomes = await notifier.deliverToAll(sampleEvent(opts.event as NotifyEventName, { now: new Date() }));
        }
        if (opts.json) printJson(outcomes);
        else
          for (const o of outcomes)
            process.stdout.write(
              `${o.target}: ${o.ok ? "delivered" : "FAILED"} (${o.attempts} attempt${o.attempts === 1 ? "" : "s"})${o.error ? ` — ${o.error}` : ""}\n`,
            );
        return outcomes.every((o) => o.ok) ? ExitCode.ok : ExitCode.failed;
      }),
    );
}

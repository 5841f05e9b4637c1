// Help conventions for every command: an "Examples:" section, required options marked, global options shown,
// and `help <noun> <verb>` as `<noun> <verb> --help`.
import { Help, type Command, type Option } from "commander";

/** Examples per command path ("repo sync"); every leaf command has an entry (test/unit/cli/help.test.ts). */
export const EXAMPLES: Record<string, string[]> = {
  "config init": ["chantal-run config init --config-dir /etc/chantal"],
  "config schema": ["chantal-run config schema > chantal.schema.json"],
  "config validate": ["chantal-run config validate", "chantal-run --config-dir ./config config validate --target aws --json"],
  "repo list": ["chantal-run repo list", "chantal-run repo list --json"],
  "repo show": ["chantal-run repo show rhel9-baseos", "chantal-run repo show --repo-id rhel9-baseos --json"],
  "repo sync": [
    "chantal-run repo sync rhel9-baseos",
    "chantal-run repo sync --all --wait 600",
    "chantal-run repo sync debian12-main --snapshot '{repo_id}-{date}'",
    "chantal-run repo sync rhel9-appstream --dry-run --verbose",
  ],
  "repo history": ["chantal-run repo history rhel9-baseos --limit 5", "chantal-run repo history --json"],
  "repo remove": ["chantal-run repo remove rocky8-baseos", "chantal-run repo remove --repo-id rocky8-baseos --keep-snapshots"],
  "snapshot create": [
    "chantal-run snapshot create rhel9-baseos --name '{repo_id}-{date}' --publish",
    "chantal-run snapshot create --group el9 --name 'el9-{date}' --wait 600",
  ],
  "snapshot list": ["chantal-run snapshot list", "chantal-run snapshot list rhel9-baseos --json", "chantal-run snapshot list --group el9"],
  "snapshot diff": [
    "chantal-run snapshot diff --repo-id rhel9-baseos rhel9-baseos-20260101 rhel9-baseos-20260201",
    "chantal-run snapshot diff --group el9 el9-20260101 el9-20260201",
  ],
  "snapshot delete": [
    "chantal-run snapshot delete rhel9-baseos --name rhel9-baseos-20260101",
    "chantal-run snapshot delete rhel9-baseos --name rhel9-baseos-20260101 --force",
  ],
  "publish repo": ["chantal-run publish repo rhel9-baseos", "chantal-run publish repo --all"],
  "publish snapshot": ["chantal-run publish snapshot rhel9-baseos --name rhel9-baseos-20260101"],
  "publish remove": ["chantal-run publish remove rocky9-baseos", "chantal-run publish remove --repo-id rocky9-baseos --snapshot rocky9-baseos-20260101"],
  promote: [
    "chantal-run promote --group el9 --snapshot el9-20260101 --to test",
    "chantal-run promote --group el9 --snapshot el9-20260101 --to prod --note 'CHG-1234'",
  ],
  "promote history": ["chantal-run promote history --group el9 --env prod", "chantal-run promote history --json"],
  "promote rollback": ["chantal-run promote rollback --group el9 --env prod"],
  "environment show": ["chantal-run environment show --env prod --group el9"],
  "proxy explain": ["chantal-run proxy explain rhel9-baseos", "chantal-run proxy explain rhel9-baseos --test --url https://cdn.example.org/x.rpm"],
  "scheduler start": ["chantal-run scheduler start", "chantal-run scheduler start --daemon", "chantal-run scheduler start --http 127.0.0.1:9464"],
  "scheduler stop": ["chantal-run scheduler stop --timeout 60"],
  "scheduler status": ["chantal-run scheduler status --json"],
  "scheduler list": ["chantal-run scheduler list", "chantal-run scheduler list --cloud --region eu-west-1"],
  "scheduler install-systemd": [
    "sudo chantal-run scheduler install-systemd --write --create-user",
    "sudo systemctl daemon-reload && sudo systemctl enable --now chantal-scheduler",
  ],
  "db status": ["chantal-run db status --json"],
  "db migrate": ["chantal-run db migrate"],
  "db backup": ["chantal-run db backup --target /var/backups/chantal", "chantal-run db backup --output /tmp/chantal.tar.gz --no-include-config"],
  "db backup-list": ["chantal-run db backup-list --target s3://backups/chantal/"],
  "db backup-info": ["chantal-run db backup-info /var/backups/chantal/chantal-20260101T020000Z.tar.gz"],
  "db backup-verify": ["chantal-run db backup-verify /var/backups/chantal/chantal-20260101T020000Z.tar.gz --deep"],
  "db backup-prune": ["chantal-run db backup-prune --target /var/backups/chantal --dry-run"],
  "db restore": ["chantal-run db restore /var/backups/chantal/chantal-20260101T020000Z.tar.gz --yes"],
  "pool verify": ["chantal-run pool verify", "chantal-run pool verify rhel9-baseos --deep --fix"],
  "pool gc": ["chantal-run pool gc --dry-run", "chantal-run pool gc", "chantal-run pool gc --protect-minutes 0 --wait-seconds 600 --json"],
  "snapshot prune": ["chantal-run snapshot prune --dry-run", "chantal-run snapshot prune rhel9-baseos"],
  "notify test": ["chantal-run notify test", "chantal-run notify test --event sync.changed", "chantal-run notify test --digest --json"],
  "metrics write": ["chantal-run metrics write --textfile /var/lib/prometheus/node-exporter"],
  "storage usage": ["chantal-run storage usage", "chantal-run storage usage rhel9-baseos --json"],
  "signing generate-key": [
    "chantal-run signing generate-key --name 'Example mirror' --email mirror@example.org --out /etc/chantal/keys/mirror.asc",
    "CHANTAL_SIGNING_PASSPHRASE=... chantal-run signing generate-key --name 'Example mirror' --email mirror@example.org --out mirror.asc --passphrase-env CHANTAL_SIGNING_PASSPHRASE --expires 730",
  ],
  "export create": [
    "chantal-run export create --repo-id rhel9-baseos --snapshot rhel9-baseos-20260101 --output /media/usb/rhel9-20260101",
    "chantal-run export create --group el9 --snapshot el9-20260201 --since 20260101T020000Z-1a2b3c4d --volume-size 4G",
    "chantal-run export create --env prod --have have.json --json",
  ],
  "export verify": [
    "chantal-run export verify /media/usb/rhel9-20260101 --trust-key /etc/chantal/keys/connected-mirror.asc",
    "chantal-run export verify /media/usb/el9-delta --trust-key connected.asc --against",
  ],
  "export list": ["chantal-run export list", "chantal-run export list --json"],
  import: [
    "chantal-run import /media/usb/rhel9-20260101 --trust-key /etc/chantal/keys/connected-mirror.asc --publish",
    "chantal-run import /media/usb/el9-delta --trust-key connected.asc --promote-to test --json",
  ],
  "import list": ["chantal-run import list", "chantal-run import list --json"],
  "import inventory": ["chantal-run import inventory --output have.json"],
  "cloud schedules": ["chantal-run cloud schedules --dry-run", "chantal-run cloud schedules --region eu-west-1"],
  "cloud status": ["chantal-run cloud status", "chantal-run cloud status --hours 168 --json"],
};

/** "repo sync" for the command `chantal-run repo sync`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** The help text of one option: commander's, with "(required)" for a mandatory option. */
function optionDescription(this: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(this, option);
  return option.mandatory ? `${text} (required)` : text;
}

/**
 * The global options of a command's help: the program's own (-c, -v, -q, --log-level). A noun's options (promote's
 * --group, --snapshot, --to) belong to the noun's own action and are read only before a verb (enablePositionalOptions),
 * so a verb's help does not list them.
 */
function visibleGlobalOptions(this: Help, cmd: Command): Option[] {
  let root = cmd;
  while (root.parent) root = root.parent;
  return root === cmd ? [] : root.options.filter((o) => !o.hidden);
}

/** Apply the conventions to every command below program (call after all verbs are registered). */
export function applyHelpConventions(program: Command): void {
  const visit = (cmd: Command): void => {
    cmd.configureHelp({ ...cmd.configureHelp(), showGlobalOptions: true, optionDescription, visibleGlobalOptions });
    const examples = EXAMPLES[commandPath(cmd)];
    if (examples) cmd.addHelpText("after", `\nExamples:\n${examples.map((e) => `  ${e}`).join("\n")}\n`);
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
}

/** `help repo sync` → `repo sync --help` (commander's help command looks at one word only); argv is process.argv. */
export function helpAsFlag(argv: readonly string[]): string[] {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--config-dir" || /^-[a-zA-Z]*c$/.test(a)) i++;
    else if (!a.startsWith("-")) {
      if (a !== "help" || i + 1 >= args.length) break;
      return [...argv.slice(0, 2), ...args.slice(0, i), ...args.slice(i + 1), "--help"];
    }
  }
  return [...argv];
}

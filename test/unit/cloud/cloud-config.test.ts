// Tests of core/cloud/cloud-config.ts.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../core/errors.js";
import {
  DEPLOY_PLACEHOLDER,
  deployTimeEnv,
  loadCloudConfig,
  referencedVariables,
  ssmParameterName,
  taskSecretVariables,
} from "../../../core/cloud/cloud-config.js";
import { makeConfigDir } from "../../helpers/cli.js";

describe("referencedVariables", () => {
  it.each([
    ["database: { url: 'postgres://u:${DB_PASSWORD}@h/db' }", [["DB_PASSWORD"], []]],
    ["proxy: { password: '${P:-}', username: '${U:-chantal}' }", [[], ["P", "U"]]],
    ["a: '${X:-1}'\nb: '${X}'", [["X"], []]],
    ["# a comment with ${NOT_A_VALUE}\na: 'price $$5 and $${LITERAL}'", [[], []]],
    ["repositories:\n  - auth: { type: basic, username: u, password: '${REPO_PW}' }\n    id: r", [["REPO_PW"], []]],
  ])("%s", (yaml, [required, optional]) => {
    expect(referencedVariables(yaml)).toEqual({ required, optional });
  });
});

describe("taskSecretVariables", () => {
  it("lists what must come from SSM: required somewhere, not provided by the app or Fargate", () => {
    expect(
      taskSecretVariables([
        "storage: { base_path: '${CHANTAL_POOL_BUCKET}' }\ndatabase: { url: '${DATABASE_URL}' }",
        "proxy: { password: '${PROXY_PW}', http_proxy: 'http://${PROXY_HOST:-proxy}:3128' }\nbackup: { target: '${CHANTAL_BACKUP_TARGET}' }\nx: '${AWS_REGION}'",
      ]),
    ).toEqual(["DATABASE_URL", "PROXY_PW"]);
  });

  it("names SSM parameters per stage", () => {
    expect(ssmParameterName("production", "PROXY_PW")).toBe("/chantal/production/PROXY_PW");
  });
});

describe("deployTimeEnv", () => {
  it("keeps real values and fills only unset required variables", () => {
    expect(deployTimeEnv({ A: "1", B: "" }, ["x: '${A}'\ny: '${B}'\nz: '${C}'\nw: '${D:-d}'"])).toEqual({
      A: "1",
      B: DEPLOY_PLACEHOLDER,
      C: DEPLOY_PLACEHOLDER,
    });
  });
});

describe("loadCloudConfig", () => {
  it("stops the deploy on a schedule AWS cannot run, naming file, key path, repository and fix", async () => {
    const dir = makeConfigDir({
      "config.yaml": "database: { url: 'postgres://u:${DB_PW}@h/db' }\n",
      "conf.d/20-repos.yaml": "repositories:\n  - id: both\n    type: rpm\n    upstream_url: https://m.example.com/x/\n    schedule: { cron: '0 1 1 * 1' }\n",
    });
    const err = await loadCloudConfig(dir, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      {
        file: "conf.d/20-repos.yaml:2",
        path: "repository both: schedule.cron",
        message:
          'cannot run on AWS EventBridge Scheduler: day-of-month "1" and day-of-week "1" are both restricted: unix cron runs on days matching either, and EventBridge Scheduler cannot express "either" (one of the two must be "?"); fix: restrict only one of them: "0 1 1 * *" (days of the month) or "0 1 * * 1" (days of the week)',
      },
    ]);
  });
});

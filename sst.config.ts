/// <reference path="./.sst/platform/config.d.ts" />
// The cloud app (issue 8 fills it): one scheduled Fargate task per repository from the same YAML.
export default $config({
  app(input) {
    return { name: "chantal", removal: input?.stage === "production" ? "retain" : "remove", home: "aws" };
  },
  async run() {},
});

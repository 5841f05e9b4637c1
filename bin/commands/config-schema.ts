// `chantal-run config schema`: print the JSON Schema of a configuration file (for editors).
import type { Command } from "commander";
import { configJsonSchema } from "../../core/config/schema.js";
import { action } from "../context.js";
import { printJsonDocument } from "../output.js";

export function register(config: Command): void {
  config
    .command("schema")
    .description("print the JSON Schema of a configuration file (for editors)")
    .action(action(async () => printJsonDocument(configJsonSchema())));
}

// For infra/tsconfig.sst.json only: SST's config types import `Shell` from "bun", and bun-types would
// replace Node's globals (URL, fetch) for our modules too. sst.config.ts never uses the Bun shell.
export type Shell = (...args: unknown[]) => unknown;

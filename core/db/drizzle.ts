// The one door to drizzle-orm: every query module imports it from here, and `npm run build` bundles this module with
// drizzle inside (scripts/bundle-dependencies.mjs). Why: drizzle-orm's package.json is 178 KB of "exports", which Node 24
// parses again for each of the ~135 drizzle files a command loads (0.5–1.5 s of every start); one bundled file is one.
export {
  and,
  asc,
  DrizzleQueryError,
  desc,
  eq,
  getTableColumns,
  gte,
  inArray,
  is,
  isNotNull,
  isNull,
  notInArray,
  SQL,
  sql,
} from "drizzle-orm";
export { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
export {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  char,
  getTableConfig,
  index,
  integer,
  jsonb,
  type PgColumn,
  PgDialect,
  pgSchema,
  PgTable,
  primaryKey,
  serial,
  smallint,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

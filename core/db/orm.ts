// Drizzle over whichever pg handle a caller holds (the pool, or a transaction's client), failing with the driver's own error.
import { drizzle, DrizzleQueryError, type NodePgDatabase } from "./drizzle.js";
import type pg from "pg";
import * as schema from "./schema.js";

/** The pool, or a client inside a transaction: the same query runs on either. */
export type Queryable = pg.Pool | pg.ClientBase;
export type Orm = NodePgDatabase<typeof schema>;

const instances = new WeakMap<Queryable, Orm>();

function ormOf(q: Queryable): Orm {
  let db = instances.get(q);
  if (!db) {
    db = drizzle(q as pg.Pool | pg.PoolClient, { schema });
    instances.set(q, db);
  }
  return db;
}

/**
 * Run one drizzle query on `q`. Drizzle wraps a failure as "Failed query: <sql> params: <values>"; the pg error
 * it wraps is rethrown instead, so SQLSTATEs, connection-loss detection and messages stay what they are.
 */
export async function orm<T>(q: Queryable, query: (db: Orm) => PromiseLike<T>): Promise<T> {
  try {
    return await query(ormOf(q));
  } catch (err) {
    throw err instanceof DrizzleQueryError && err.cause !== undefined ? err.cause : err;
  }
}

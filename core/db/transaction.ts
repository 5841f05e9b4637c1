// The one BEGIN/COMMIT/ROLLBACK: a failure rolls back, a failed ROLLBACK never hides the error that caused it.
import type pg from "pg";

export interface TransactionOptions {
  isolation?: "read committed" | "repeatable read" | "serializable";
  readOnly?: boolean;
  /** false: roll back even when `fn` succeeds (a rehearsal, as `backup verify --deep` loads a dump). Default true. */
  commit?: boolean;
}

function beginStatement(opts: TransactionOptions): string {
  const modes = [opts.isolation ? `ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : "", opts.readOnly ? "READ ONLY" : ""].filter(Boolean);
  return modes.length > 0 ? `BEGIN ${modes.join(", ")}` : "BEGIN";
}

/** Set when the session can no longer be trusted (BEGIN, COMMIT or ROLLBACK failed): a pool client is then destroyed, not reused. */
interface SessionState {
  broken: boolean;
}

async function transact<T, C extends pg.ClientBase>(client: C, fn: (client: C) => Promise<T>, opts: TransactionOptions, state: SessionState): Promise<T> {
  try {
    await client.query(beginStatement(opts));
  } catch (err) {
    state.broken = true;
    throw err;
  }
  let value: T;
  try {
    value = await fn(client);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {
      state.broken = true;
    });
    throw err;
  }
  try {
    await client.query(opts.commit === false ? "ROLLBACK" : "COMMIT");
  } catch (err) {
    // The server has ended the transaction either way; a session that failed its COMMIT is not handed on.
    state.broken = true;
    throw err;
  }
  return value;
}

/** Run `fn` in a transaction on a client the caller holds (and keeps): statements that must come first, like a lock wait, run in `fn`. */
export async function inTransaction<T, C extends pg.ClientBase>(client: C, fn: (client: C) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  return transact(client, fn, opts, { broken: false });
}

/** Run `fn` in a transaction on a client of `pool`, released afterwards (destroyed when its session is broken). */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  const state: SessionState = { broken: false };
  try {
    return await transact(client, fn, opts, state);
  } finally {
    client.release(state.broken);
  }
}

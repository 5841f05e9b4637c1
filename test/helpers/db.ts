// Each test file gets its own fresh database on the suite's server, owned by the app role, dropped afterwards.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

export interface TestDatabase {
  /** As the app role (no superuser with the embedded server), like the CLI connects. */
  url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export async function createTestDatabase(prefix = "t"): Promise<TestDatabase> {
  const admin = inject("adminDatabaseUrl");
  const app = inject("appDatabaseUrl");
  const owner = decodeURIComponent(new URL(app).username);
  const name = `chantal_${prefix}_${randomBytes(5).toString("hex")}`.toLowerCase();
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}${owner ? ` OWNER ${quoteIdent(owner)}` : ""}`);
  } finally {
    await client.end();
  }
  return {
    url: withDatabase(app, name),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        // pg's pool.end() resolves before its connections have closed: a forced drop then terminates a session whose
        // client no longer listens for errors (an uncaught 57P01). Wait up to 2 s for them to go; force what stays
        // (the idle lock sessions a process keeps listen for their end).
        for (let i = 0; i < 40; i++) {
          const { rows } = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name NOT LIKE '%chantal-lock:%'", [
            name,
          ]);
          if (rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

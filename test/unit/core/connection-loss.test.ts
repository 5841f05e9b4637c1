// isConnectionLoss: which errors mean the PostgreSQL session is gone (and are reported as "lost the database connection").
import { describe, expect, it } from "vitest";
import { connectionLossError, isConnectionLoss } from "../../../core/db/client.js";
import { DatabaseError } from "../../../core/errors.js";
import { HttpNetworkError } from "../../../core/http/client.js";

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("isConnectionLoss", () => {
  it.each([
    { name: "the socket closed under a query", err: new Error("Connection terminated unexpectedly"), lost: true },
    { name: "pg_terminate_backend", err: withCode("terminating connection due to administrator command", "57P01"), lost: true },
    { name: "a server shutting down", err: withCode("the database system is shutting down", "57P03"), lost: true },
    { name: "a connection exception class", err: withCode("connection failure", "08006"), lost: true },
    { name: "a socket reset", err: withCode("read ECONNRESET", "ECONNRESET"), lost: true },
    { name: "a client broken earlier", err: new Error("Client has encountered a connection error and is not queryable"), lost: true },
    { name: "a statement cancelled (SIGTERM)", err: withCode("canceling statement due to user request", "57014"), lost: false },
    { name: "a constraint violation", err: withCode("duplicate key value violates unique constraint", "23505"), lost: false },
    {
      name: "an upstream's reset (ours, not the database's)",
      err: new HttpNetworkError("ECONNRESET", true, "http://x/a.rpm", "a.rpm", undefined),
      lost: false,
    },
    { name: "not an Error", err: "Connection terminated", lost: false },
  ])("$name: $lost", ({ err, lost }) => {
    expect(isConnectionLoss(err)).toBe(lost);
  });

  it("connectionLossError names what was being done and the fix; other errors pass unchanged", () => {
    const e = connectionLossError(new Error("Connection terminated unexpectedly"), "the commit of repository r1");
    expect(e).toBeInstanceOf(DatabaseError);
    expect((e as Error).message).toBe(
      "lost the database connection during the commit of repository r1 (Connection terminated unexpectedly): run it again once PostgreSQL is reachable",
    );
    const other = withCode("duplicate key", "23505");
    expect(connectionLossError(other, "x")).toBe(other);
  });
});

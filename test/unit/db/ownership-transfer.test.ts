// planOwnershipTransfer: which ALTER ... OWNER TO statements hand the embedded database to the app role.
import { describe, expect, it } from "vitest";
import { planOwnershipTransfer, type OwnedObject } from "../../../core/db/embedded.js";

const o = (kind: string, name: string, owner = "chantal"): OwnedObject => ({ kind, name, owner });

describe("planOwnershipTransfer", () => {
  const cases: { name: string; objects: OwnedObject[]; expected: string[] }[] = [
    { name: "nothing to do on an empty list", objects: [], expected: [] },
    {
      name: "nothing to do when the app role owns everything (already converted)",
      objects: [o("DATABASE", "chantal", "chantal_app"), o("SCHEMA", "chantal", "chantal_app"), o("TABLE", "chantal.packages", "chantal_app")],
      expected: [],
    },
    {
      name: "a fresh cluster: only the database (created by the superuser) changes hands",
      objects: [o("DATABASE", "chantal")],
      expected: [`ALTER DATABASE chantal OWNER TO "chantal_app"`],
    },
    {
      name: "an old data dir: database first, then schema, then its objects, in catalog order",
      objects: [
        o("TABLE", "chantal.repositories"),
        o("SEQUENCE", "chantal.standalone_seq"),
        o("SCHEMA", "chantal"),
        o("VIEW", "chantal.v"),
        o("ROUTINE", "chantal.f(integer)"),
        o("TYPE", "chantal.kind"),
        o("DATABASE", "chantal"),
      ],
      expected: [
        `ALTER DATABASE chantal OWNER TO "chantal_app"`,
        `ALTER SCHEMA chantal OWNER TO "chantal_app"`,
        `ALTER TABLE chantal.repositories OWNER TO "chantal_app"`,
        `ALTER SEQUENCE chantal.standalone_seq OWNER TO "chantal_app"`,
        `ALTER VIEW chantal.v OWNER TO "chantal_app"`,
        `ALTER ROUTINE chantal.f(integer) OWNER TO "chantal_app"`,
        `ALTER TYPE chantal.kind OWNER TO "chantal_app"`,
      ],
    },
    {
      name: "an object someone added by hand later is handed over too",
      objects: [o("DATABASE", "chantal", "chantal_app"), o("SCHEMA", "chantal", "chantal_app"), o("TABLE", "chantal.extra", "someone")],
      expected: [`ALTER TABLE chantal.extra OWNER TO "chantal_app"`],
    },
  ];
  it.each(cases)("$name", ({ objects, expected }) => {
    expect(planOwnershipTransfer(objects, "chantal_app")).toEqual(expected);
  });

  it("refuses an object kind it has no ALTER for, naming it", () => {
    expect(() => planOwnershipTransfer([o("OPERATOR", "chantal.===")], "chantal_app")).toThrow(/chantal\.=== \(OPERATOR\).*unknown object kind/);
  });

  it("quotes the role", () => {
    expect(planOwnershipTransfer([o("SCHEMA", "s")], 'we"ird')).toEqual([`ALTER SCHEMA s OWNER TO "we""ird"`]);
  });
});

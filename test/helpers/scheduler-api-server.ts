// A small EventBridge Scheduler on 127.0.0.1 that speaks the service's REST-JSON wire format, so the
// real @aws-sdk/client-scheduler serializes requests and parses answers (and errors) in tests.
// Schedules live in schedule groups; UpdateSchedule replaces the whole schedule, as AWS does.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseAwsCron } from "./aws-cron-evaluator.js";

/** The environment the CLI runs with against this server: fixed test credentials, nothing read from the host's AWS setup. */
export function fakeAwsEnv(): Record<string, string | undefined> {
  return {
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ACCESS_KEY_ID: "AKIDCHANTALTEST",
    AWS_SECRET_ACCESS_KEY: "chantal-test-secret",
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: "/nonexistent",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    AWS_REGION: "eu-west-1",
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_SCHEDULER: undefined,
    CHANTAL_SCHEDULE_GROUP: undefined,
  };
}

export interface StoredSchedule {
  Name: string;
  GroupName: string;
  Arn: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone?: string;
  FlexibleTimeWindow: { Mode: string; MaximumWindowInMinutes?: number };
  Target: Record<string, unknown> & { Arn: string; RoleArn: string; Input?: string };
  State?: string;
  Description?: string;
  StartDate?: number;
  EndDate?: number;
  KmsKeyArn?: string;
  ActionAfterCompletion?: string;
  CreationDate: number;
  LastModificationDate: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  operation: string;
  /** The access key id the SigV4 Authorization header was signed with. */
  accessKeyId: string | null;
}

export interface SchedulerApiServer {
  url: string;
  requests: RecordedRequest[];
  /** group -> name -> schedule */
  groups: Map<string, Map<string, StoredSchedule>>;
  addGroup(name: string): void;
  /** Put a schedule straight into the state (test setup), bypassing the API. */
  seed(s: Omit<StoredSchedule, "Arn" | "CreationDate" | "LastModificationDate">): void;
  schedule(group: string, name: string): StoredSchedule | undefined;
  /** Operations that changed something. */
  writes(): RecordedRequest[];
  /** Answer this operation on this schedule with an error from now on (e.g. "UpdateSchedule", "chantal-sync-x"). */
  fail(operation: string, name: string, error: { status: number; type: string; message: string }): void;
  /** Answer this fraction of the calls of an operation (any schedule) with 429 ThrottlingException, pseudo-randomly (seeded). */
  throttle(operation: string, fraction: number, seed?: number): void;
  /** Calls answered with a throttling error so far. */
  throttled(): number;
  close(): Promise<void>;
}

const ACCOUNT = "123456789012";
const REGION = "eu-west-1";
const NAME = /^[0-9a-zA-Z\-_.]{1,64}$/;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...(errorType ? { "x-amzn-errortype": errorType } : {}),
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function validateExpression(expr: unknown): void {
  if (typeof expr !== "string" || expr.length > 256) throw new ApiError(400, "ValidationException", "Invalid Schedule Expression");
  if (/^(rate|at)\(/.test(expr)) return;
  try {
    parseAwsCron(expr);
  } catch (err) {
    throw new ApiError(400, "ValidationException", `Invalid Schedule Expression ${expr}: ${(err as Error).message}`);
  }
}

function validateTimezone(tz: unknown): void {
  if (tz === undefined) return;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: String(tz) });
  } catch {
    throw new ApiError(400, "ValidationException", `Invalid timezone ${String(tz)}`);
  }
}

export async function startSchedulerApiServer(opts: { pageSize?: number } = {}): Promise<SchedulerApiServer> {
  const pageSize = opts.pageSize ?? 2;
  const groups = new Map<string, Map<string, StoredSchedule>>([["default", new Map()]]);
  const requests: RecordedRequest[] = [];
  const faults = new Map<string, { status: number; type: string; message: string }>();
  const throttles = new Map<string, { fraction: number; state: number }>();
  let throttledCalls = 0;
  const injectFault = (operation: string, name: string) => {
    const t = throttles.get(operation);
    if (t) {
      // A small LCG: the same calls are throttled in every run of a test.
      t.state = (t.state * 1_103_515_245 + 12_345) % 2 ** 31;
      if (t.state / 2 ** 31 < t.fraction) {
        throttledCalls++;
        throw new ApiError(429, "ThrottlingException", "Rate exceeded");
      }
    }
    const f = faults.get(`${operation} ${name}`);
    if (f) throw new ApiError(f.status, f.type, f.message);
  };
  const now = () => Math.floor(Date.now() / 1000);
  const arn = (group: string, name: string) => `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${group}/${name}`;

  const groupOf = (name: string | null): Map<string, StoredSchedule> => {
    const g = groups.get(name ?? "default");
    if (!g) throw new ApiError(404, "ResourceNotFoundException", `Schedule group ${name} does not exist.`);
    return g;
  };

  /** A CreateSchedule/UpdateSchedule body as AWS stores it: absent optional fields are absent afterwards. */
  const fromBody = (name: string, group: string, body: Record<string, unknown>, created: number): StoredSchedule => {
    if (!NAME.test(name)) throw new ApiError(400, "ValidationException", `Invalid schedule name ${name}`);
    validateExpression(body.ScheduleExpression);
    validateTimezone(body.ScheduleExpressionTimezone);
    const target = body.Target as StoredSchedule["Target"] | undefined;
    if (!target?.Arn || !target.RoleArn) throw new ApiError(400, "ValidationException", "Target.Arn and Target.RoleArn are required");
    const window = body.FlexibleTimeWindow as StoredSchedule["FlexibleTimeWindow"] | undefined;
    if (!window || !["OFF", "FLEXIBLE"].includes(window.Mode)) throw new ApiError(400, "ValidationException", "FlexibleTimeWindow is required");
    if (window.Mode === "FLEXIBLE" && !(Number(window.MaximumWindowInMinutes) >= 1 && Number(window.MaximumWindowInMinutes) <= 1440)) {
      throw new ApiError(400, "ValidationException", "MaximumWindowInMinutes must be 1-1440");
    }
    const s: StoredSchedule = {
      Name: name,
      GroupName: group,
      Arn: arn(group, name),
      ScheduleExpression: body.ScheduleExpression as string,
      FlexibleTimeWindow: window,
      Target: target,
      State: (body.State as string | undefined) ?? "ENABLED",
      CreationDate: created,
      LastModificationDate: now(),
    };
    for (const k of ["ScheduleExpressionTimezone", "Description", "StartDate", "EndDate", "KmsKeyArn", "ActionAfterCompletion"] as const) {
      if (body[k] !== undefined) (s as unknown as Record<string, unknown>)[k] = body[k];
    }
    return s;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? "GET";
    const auth = req.headers.authorization ?? "";
    const accessKeyId = /Credential=([^/]+)\//.exec(auth)?.[1] ?? null;
    const record = (operation: string) => requests.push({ method, path: url.pathname + url.search, operation, accessKeyId });
    if (!accessKeyId) throw new ApiError(403, "AccessDeniedException", "missing SigV4 signature");

    if (parts[0] === "schedule-groups" && parts.length === 2) {
      const name = parts[1]!;
      if (method === "GET") {
        record("GetScheduleGroup");
        groupOf(name);
        return send(res, 200, {
          Arn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/${name}`,
          Name: name,
          State: "ACTIVE",
          CreationDate: now(),
          LastModificationDate: now(),
        });
      }
      if (method === "POST") {
        record("CreateScheduleGroup");
        if (groups.has(name)) throw new ApiError(409, "ConflictException", `Schedule group ${name} already exists.`);
        groups.set(name, new Map());
        return send(res, 200, { ScheduleGroupArn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/${name}` });
      }
    }
    if (parts[0] === "schedules" && parts.length === 1 && method === "GET") {
      record("ListSchedules");
      injectFault("ListSchedules", "");
      const group = url.searchParams.get("ScheduleGroup");
      const prefix = url.searchParams.get("NamePrefix") ?? "";
      const max = Math.min(Number(url.searchParams.get("MaxResults") ?? 100), pageSize);
      const start = Number(url.searchParams.get("NextToken") ?? 0);
      const all = (group ? [...groupOf(group).values()] : [...groups.values()].flatMap((g) => [...g.values()]))
        .filter((s) => s.Name.startsWith(prefix))
        .sort((a, b) => (a.Name < b.Name ? -1 : 1));
      const page = all.slice(start, start + max);
      const summaries = page.map((s) => ({
        Arn: s.Arn,
        Name: s.Name,
        GroupName: s.GroupName,
        State: s.State,
        CreationDate: s.CreationDate,
        LastModificationDate: s.LastModificationDate,
        Target: { Arn: s.Target.Arn },
      }));
      return send(res, 200, { Schedules: summaries, ...(start + max < all.length ? { NextToken: String(start + max) } : {}) });
    }
    if (parts[0] === "schedules" && parts.length === 2) {
      const name = parts[1]!;
      if (method === "GET") {
        record("GetSchedule");
        injectFault("GetSchedule", name);
        const s = groupOf(url.searchParams.get("groupName")).get(name);
        if (!s) throw new ApiError(404, "ResourceNotFoundException", `Schedule ${name} does not exist.`);
        return send(res, 200, s);
      }
      if (method === "DELETE") {
        record("DeleteSchedule");
        injectFault("DeleteSchedule", name);
        const g = groupOf(url.searchParams.get("groupName"));
        if (!g.delete(name)) throw new ApiError(404, "ResourceNotFoundException", `Schedule ${name} does not exist.`);
        return send(res, 200, {});
      }
      if (method === "POST" || method === "PUT") {
        record(method === "POST" ? "CreateSchedule" : "UpdateSchedule");
        injectFault(method === "POST" ? "CreateSchedule" : "UpdateSchedule", name);
        const body = await readBody(req);
        const groupName = (body.GroupName as string | undefined) ?? "default";
        const g = groupOf(groupName);
        const existing = g.get(name);
        if (method === "POST" && existing) throw new ApiError(409, "ConflictException", `Schedule ${name} already exists.`);
        if (method === "PUT" && !existing) throw new ApiError(404, "ResourceNotFoundException", `Schedule ${name} does not exist.`);
        const s = fromBody(name, groupName, body, existing?.CreationDate ?? now());
        g.set(name, s);
        return send(res, 200, { ScheduleArn: s.Arn });
      }
    }
    record("Unknown");
    throw new ApiError(404, "UnknownOperationException", `no route for ${method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof ApiError) send(res, err.status, { Message: err.message }, err.type);
      else send(res, 500, { Message: String(err) }, "InternalServerException");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const writeOps = new Set(["CreateSchedule", "UpdateSchedule", "DeleteSchedule", "CreateScheduleGroup"]);

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    groups,
    addGroup: (name) => void groups.set(name, groups.get(name) ?? new Map()),
    seed(s) {
      const g = groupOf(s.GroupName);
      g.set(s.Name, { ...s, Arn: arn(s.GroupName, s.Name), CreationDate: now(), LastModificationDate: now() });
    },
    schedule: (group, name) => groups.get(group)?.get(name),
    writes: () => requests.filter((r) => writeOps.has(r.operation)),
    fail: (operation, name, error) => void faults.set(`${operation} ${name}`, error),
    throttle: (operation, fraction, seed = 1) => void throttles.set(operation, { fraction, state: seed }),
    throttled: () => throttledCalls,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

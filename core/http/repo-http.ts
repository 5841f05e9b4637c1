// The HTTP options of one repository: a keep-alive agent sized for its downloads, and its upstream credentials.
import { Agent } from "undici";
import type { Config, RepositoryConfig } from "../config/schema.js";
import type { HttpOptions } from "./client.js";

export interface RepositoryHttp {
  http: HttpOptions;
  close(): Promise<void>;
}

function basicAuthHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

export function repositoryHttp(repo: RepositoryConfig, _config: Config, extra: Partial<HttpOptions> = {}): RepositoryHttp {
  const agent = new Agent({ connections: repo.download_concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const headers: Record<string, string> = {};
  if (repo.auth?.type === "basic") headers.authorization = basicAuthHeader(repo.auth.username, repo.auth.password);
  return {
    http: { dispatcher: agent, headers, ...extra },
    close: () => agent.close().catch(() => undefined),
  };
}

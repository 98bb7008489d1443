import { readFileSync } from "node:fs";
import { Option } from "commander";
import { DEFAULT_LISTEN } from "../http/listen.ts";
import type { CliIO } from "./context.ts";

export interface ApiOptions {
  server?: string;
  tokenFile?: string;
}

/** --server and --token-file, for commands that ask the running daemon to act. */
export function apiOptions(): Option[] {
  return [
    new Option("--server <url>", `the daemon's HTTP address (default $BERTH_SERVER or http://${DEFAULT_LISTEN})`),
    new Option("--token-file <path>", "file holding the daemon's API token (default $BERTH_API_TOKEN)"),
  ];
}

/** Thrown when the daemon cannot be asked, or says no. */
export class ApiError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ApiError";
  }
}

/** Sends one request to the daemon's API; the body of a 2xx answer, or an ApiError that says what to do. */
export async function callApi(io: CliIO, options: ApiOptions, method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
  const server = (options.server ?? io.env.BERTH_SERVER ?? `http://${DEFAULT_LISTEN}`).replace(/\/$/, "");
  const token = options.tokenFile ? readFileSync(options.tokenFile, "utf8").trim() : io.env.BERTH_API_TOKEN;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token && method === "POST") headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(`${server}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    const why = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new ApiError(`no Berth daemon answers at ${server} (${why}); expected berth run listening there, or --server <url>`, { cause: error });
  }
  const answer = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new ApiError(`${server} answered ${response.status}: ${answer.error ?? response.statusText}`);
  return answer;
}

/** `Service/env/name`, or `Service/name` with --env, as the API's path segment `env/name`. */
export function servicePath(arg: string, env: string | undefined): string {
  const parts = arg.replace(/^Service\//, "").split("/");
  if (parts.length === 2 && parts[0] && parts[1]) return `${encodeURIComponent(parts[0])}/${encodeURIComponent(parts[1])}`;
  if (parts.length === 1 && parts[0] && env) return `${encodeURIComponent(env)}/${encodeURIComponent(parts[0])}`;
  throw new ApiError(`cannot tell which service "${arg}" means; expected Service/name with --env, e.g. Service/web --env production, or Service/production/web`);
}

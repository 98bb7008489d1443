import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Credentials as the Engine API's X-Registry-Auth carries them (dockerode's `authconfig`). */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** One `registries:` entry of a DeploymentTarget, its password already read (or why it could not be). */
export interface RegistryLogin {
  /** Registry host[:port], normalised by registryHost. */
  server: string;
  username: string;
  password?: string;
  /** Why the password could not be read; a pull from this registry fails with it. */
  problem?: string;
  /** Where the entry is declared, for messages: `DeploymentTarget/x (file:line:col)`. */
  origin: string;
}

/** What the daemon user's Docker CLI config offers: logins by registry host, and helpers Berth does not run. */
export interface DockerConfig {
  file: string;
  logins: ReadonlyMap<string, { username: string; password: string }>;
  /** Registry host -> credential helper (credHelpers), for messages. */
  helpers: ReadonlyMap<string, string>;
  credsStore?: string;
  /** Why the file could not be used (unreadable, not JSON); absent when it is fine or missing. */
  problem?: string;
}

/** The credentials a pull sends, and where they came from. */
export interface PullCredentials {
  /** The registry host the image is pulled from. */
  registry: string;
  auth?: RegistryAuth;
  /** Where `auth` came from (a DeploymentTarget's registries, or the config file). */
  origin?: string;
  /** A manifest entry for this registry whose password could not be read. */
  problem?: string;
  /** The config names a credential helper for this registry; Berth does not run helpers. */
  helper?: string;
  /** The Docker CLI config consulted. */
  configFile: string;
}

export const DOCKER_HUB = "docker.io";
const HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);
/** The address Docker Hub logins are stored and sent under, as the Docker CLI does. */
const HUB_ADDRESS = "https://index.docker.io/v1/";

/**
 * The registry an image reference pulls from, as Docker decides it: the part
 * before the first "/" when it looks like a host (has "." or ":", or is
 * "localhost"), otherwise Docker Hub.
 */
export function registryOf(ref: string): string {
  const slash = ref.indexOf("/");
  if (slash < 0) return DOCKER_HUB;
  const first = ref.slice(0, slash);
  const isHost = first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase();
  return isHost ? registryHost(first) : DOCKER_HUB;
}

/** A registry server as written in a manifest or config.json (URL or host[:port]) -> host[:port], Hub aliases -> docker.io. */
export function registryHost(server: string): string {
  const host = server.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").split("/")[0]!.toLowerCase();
  return HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/** Where the Docker CLI keeps its config for the daemon's user: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, "config.json");
  return join(env.HOME || homedir(), ".docker", "config.json");
}

/** Reads the Docker CLI config; a missing file is an empty config, an unreadable one says why in `problem`. */
export function readDockerConfig(env: NodeJS.ProcessEnv, read: (file: string) => string = (f) => readFileSync(f, "utf8")): DockerConfig {
  const file = dockerConfigPath(env);
  let text: string;
  try {
    text = read(file);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { file, logins: new Map(), helpers: new Map() };
    return { file, logins: new Map(), helpers: new Map(), problem: `${file} cannot be read (${code ?? (error as Error).message})` };
  }
  return parseDockerConfig(text, file);
}

interface RawConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** Parses config.json: `auths` entries with `auth` (base64 user:password) or username and password. */
export function parseDockerConfig(text: string, file: string): DockerConfig {
  let raw: RawConfig;
  try {
    raw = JSON.parse(text) as RawConfig;
    if (!raw || typeof raw !== "object") throw new Error("not a JSON object");
  } catch (error) {
    return { file, logins: new Map(), helpers: new Map(), problem: `${file} is not valid JSON (${(error as Error).message})` };
  }
  const logins = new Map<string, { username: string; password: string }>();
  for (const [server, entry] of Object.entries(raw.auths ?? {})) {
    const login = loginOf(entry);
    if (login) logins.set(registryHost(server), login);
  }
  const helpers = new Map(Object.entries(raw.credHelpers ?? {}).map(([server, helper]) => [registryHost(server), helper]));
  return { file, logins, helpers, ...(typeof raw.credsStore === "string" && raw.credsStore ? { credsStore: raw.credsStore } : {}) };
}

function loginOf(entry: { auth?: string; username?: string; password?: string } | null | undefined): { username: string; password: string } | undefined {
  if (!entry || typeof entry !== "object") return undefined;
  if (typeof entry.auth === "string" && entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && entry.username && typeof entry.password === "string") return { username: entry.username, password: entry.password };
  // An empty entry is what `docker login` leaves when a credential helper holds the secret.
  return undefined;
}

/** The credentials for pulling `ref`: the target's registries entry for its registry wins over config.json. */
export function credentialsFor(ref: string, logins: readonly RegistryLogin[], config: DockerConfig): PullCredentials {
  const registry = registryOf(ref);
  const base = { registry, configFile: config.file };
  const declared = logins.find((l) => l.server === registry);
  if (declared) {
    if (declared.problem !== undefined || declared.password === undefined) return { ...base, origin: declared.origin, problem: declared.problem ?? "its password could not be read" };
    return { ...base, auth: authOf(registry, declared.username, declared.password), origin: declared.origin };
  }
  const stored = config.logins.get(registry);
  if (stored) return { ...base, auth: authOf(registry, stored.username, stored.password), origin: config.file };
  const helper = config.helpers.get(registry) ?? config.credsStore;
  return helper ? { ...base, helper } : base;
}

function authOf(registry: string, username: string, password: string): RegistryAuth {
  return { username, password, serveraddress: registry === DOCKER_HUB ? HUB_ADDRESS : registry };
}

/** The repo digest of the reference's own repository (an image pushed elsewhere carries others), else the image ID. */
export function digestOf(ref: string, repoDigests: readonly string[], id: string): string {
  const repository = ref.replace(/@.*$/, "").replace(/:[^:/]*$/, "");
  // Docker records Hub images without the docker.io/ (and library/) prefix the reference may carry.
  const short = repository.replace(/^(docker\.io|index\.docker\.io)\//, "").replace(/^library\//, "");
  return repoDigests.find((d) => d.startsWith(`${repository}@`) || d.startsWith(`${short}@`)) ?? id;
}

/** A pull the registry refused for want of (valid) credentials, as the engine reports it. */
export function isUnauthorized(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /unauthorized|authentication required|no basic auth credentials|denied|\b401\b/i.test(text);
}

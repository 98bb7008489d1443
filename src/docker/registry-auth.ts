import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Credentials as the Engine API's X-Registry-Auth carries them (dockerode's `authconfig`). */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
  /** An OAuth refresh token (config.json's `identitytoken`, e.g. Azure ACR): the engine trades it for access; a secret like the password. */
  identitytoken?: string;
}

/** A login as config.json stores it. */
export interface StoredLogin {
  username: string;
  password: string;
  identitytoken?: string;
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
  logins: ReadonlyMap<string, StoredLogin>;
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
  return splitHost(ref).host ?? DOCKER_HUB;
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

interface RawLogin {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface RawConfig {
  auths?: Record<string, RawLogin>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** Parses config.json: `auths` entries with `auth` (base64 user:password) or username and password, and an `identitytoken` if any. */
export function parseDockerConfig(text: string, file: string): DockerConfig {
  let raw: RawConfig;
  try {
    raw = JSON.parse(text) as RawConfig;
    if (!raw || typeof raw !== "object") throw new Error("not a JSON object");
  } catch (error) {
    return { file, logins: new Map(), helpers: new Map(), problem: `${file} is not valid JSON (${(error as Error).message})` };
  }
  const logins = new Map<string, StoredLogin>();
  for (const [server, entry] of Object.entries(raw.auths ?? {})) {
    const login = loginOf(entry);
    if (login) logins.set(registryHost(server), login);
  }
  const helpers = new Map(Object.entries(raw.credHelpers ?? {}).map(([server, helper]) => [registryHost(server), helper]));
  return { file, logins, helpers, ...(typeof raw.credsStore === "string" && raw.credsStore ? { credsStore: raw.credsStore } : {}) };
}

function loginOf(entry: RawLogin | null | undefined): StoredLogin | undefined {
  if (!entry || typeof entry !== "object") return undefined;
  // Token logins (Azure ACR) store `auth` as 00000000-0000-0000-0000-000000000000: with no password, and the token beside it.
  const token = typeof entry.identitytoken === "string" && entry.identitytoken ? { identitytoken: entry.identitytoken } : {};
  if (typeof entry.auth === "string" && entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), ...token };
  }
  if (typeof entry.username === "string" && entry.username && (typeof entry.password === "string" || token.identitytoken)) return { username: entry.username, password: entry.password ?? "", ...token };
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
  if (stored) return { ...base, auth: { ...authOf(registry, stored.username, stored.password), ...(stored.identitytoken ? { identitytoken: stored.identitytoken } : {}) }, origin: config.file };
  const helper = config.helpers.get(registry) ?? config.credsStore;
  return helper ? { ...base, helper } : base;
}

function authOf(registry: string, username: string, password: string): RegistryAuth {
  return { username, password, serveraddress: registry === DOCKER_HUB ? HUB_ADDRESS : registry };
}

/** The secret values of credentials (password, identity token), for the redactor: neither may show in any sink. */
export function secretsOf(auth: RegistryAuth | undefined): string[] {
  return auth ? [auth.password, auth.identitytoken ?? ""].filter((v) => v !== "") : [];
}

/** Splits a name into registry host (undefined: Docker Hub, implied) and path, as Docker decides it (see registryOf). */
function splitHost(name: string): { host?: string; path: string } {
  const slash = name.indexOf("/");
  if (slash < 0) return { path: name };
  const first = name.slice(0, slash);
  const isHost = first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase();
  return isHost ? { host: registryHost(first), path: name.slice(slash + 1) } : { path: name };
}

/** A reference's repository as Docker compares names: tag and digest cut, Hub's short forms in full (busybox -> docker.io/library/busybox). */
export function repositoryOf(ref: string): string {
  const { host = DOCKER_HUB, path } = splitHost(ref.replace(/@.*$/, "").replace(/:[^:/]*$/, ""));
  return host === DOCKER_HUB && !path.includes("/") ? `${DOCKER_HUB}/library/${path}` : `${host}/${path}`;
}

/**
 * What an image is recorded as for a deployment of `ref`: the repo digest
 * (`repo@sha256:…`, pullable) of the reference's own repository, else the
 * image ID (`sha256:…`, no repository: built or loaded here, or pulled from
 * another repository). A reference pinned by digest takes that digest; several
 * digests of the repository (the tag was pushed again with other manifests)
 * cannot say which one the tag named, so the ID, which is exact, is recorded.
 */
export function digestOf(ref: string, repoDigests: readonly string[], id: string): string {
  const repository = repositoryOf(ref);
  const own = repoDigests.filter((d) => d.includes("@") && repositoryOf(d.slice(0, d.indexOf("@"))) === repository);
  const pinned = /@(sha256:[0-9a-f]{64})$/.exec(ref)?.[1];
  const chosen = pinned ? own.find((d) => d.endsWith(`@${pinned}`)) : own.length === 1 ? own[0] : undefined;
  return chosen ?? id;
}

/** Whether a recorded image is a repo digest (`repo@sha256:…`) rather than an image ID (`sha256:…`). */
export function isRepoDigest(recorded: string): boolean {
  return recorded.includes("@");
}

/** An error the engine wrote into a pull's (or build's) progress stream: its text is the engine's own answer. */
export class EngineStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineStreamError";
  }
}

/**
 * The registry's answers that mean "credentials wanted or refused", as the
 * engine words them (Docker's registry error codes render as `code: message`).
 * Phrases only: a bare "denied" is also `permission denied` on the engine's
 * disk, and a repository may be called access-denied-page.
 */
const UNAUTHORIZED = [/(?:^|: )(?:unauthorized|denied)(?:: |$)/i, /authentication required/i, /pull access denied/i, /requested access to the resource is denied/i, /no basic auth credentials/i, /incorrect username or password/i, /\b401 Unauthorized\b/i];

/**
 * A pull the registry refused for want of (valid) credentials. Takes the
 * engine's own error (a DockerCallError's cause), never Berth's wrapper text,
 * which names the image and target: only an HTTP answer of the engine or an
 * error in its progress stream counts; a timeout or lost connection does not.
 */
export function isUnauthorized(engineError: unknown): boolean {
  if (engineError instanceof EngineStreamError) return UNAUTHORIZED.some((p) => p.test(engineError.message));
  const e = engineError as { statusCode?: unknown; json?: unknown; message?: unknown } | null | undefined;
  if (typeof e?.statusCode !== "number") return false;
  if (e.statusCode === 401) return true;
  const json = e.json as { message?: unknown } | string | null | undefined;
  const fromJson = typeof json === "string" ? json : typeof json?.message === "string" ? json.message : undefined;
  // A streamed call carries the answer only in dockerode's message: "(HTTP code 500) server error - <answer> ".
  const streamed = typeof e.message === "string" ? /^\(HTTP code \d+\) [^-]*- ([\s\S]*\S)\s*$/.exec(e.message)?.[1] : undefined;
  const answer = fromJson ?? streamed ?? "";
  return UNAUTHORIZED.some((p) => p.test(answer));
}

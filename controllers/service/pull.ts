import { DockerCallError, type Driver } from "../../src/docker/driver.ts";
import { isUnauthorized, type PullCredentials } from "../../src/docker/registry-auth.ts";
import { TerminalReconcileError } from "../../src/engine/errors.ts";

/** The condition reason of a pull the registry refused: waiting will not fix it, credentials will. */
export const IMAGE_PULL_UNAUTHORIZED = "ImagePullUnauthorized";

/**
 * Pulls `ref` with the credentials for its registry. A registry that refuses
 * them (or wants some) ends the pass as terminal without a retry: the same
 * pull would be refused again, so only a change (registries added to the
 * target, a `docker login`, the next resync) tries it again.
 */
export async function pullWithCredentials(driver: Driver, ref: string, reason: string, credentials: PullCredentials | undefined): Promise<void> {
  if (credentials?.problem !== undefined) {
    throw new TerminalReconcileError(`image ${ref} cannot be pulled from registry ${credentials.registry}: ${credentials.problem} (${credentials.origin})`, { reason: "RegistryCredentialsMissing" });
  }
  try {
    await driver.pullImage(ref, reason, credentials?.auth);
  } catch (error) {
    // Only the engine's own answer is classified: Berth's wrapper text names the image and target, which may say "denied".
    if (!isUnauthorized(error instanceof DockerCallError ? error.cause : error)) throw error;
    throw new TerminalReconcileError(unauthorizedMessage(ref, driver.target, credentials, error), { cause: error, reason: IMAGE_PULL_UNAUTHORIZED });
  }
}

/** Names the image, the registry, what was sent and what would work. */
export function unauthorizedMessage(ref: string, target: string, credentials: PullCredentials | undefined, error: unknown): string {
  const registry = credentials?.registry ?? "its registry";
  const said = error instanceof Error ? error.message : String(error);
  const expected = `expected registries: [{server: ${registry}, username: …, passwordFrom: {envFile: …, key: …}}] on DeploymentTarget/${target}, or docker login ${registry} as the daemon's user${credentials ? ` (${credentials.configFile})` : ""}`;
  const head = `image ${ref}: registry ${registry} refused the pull`;
  if (credentials?.auth) {
    const who = credentials.auth.identitytoken ? `the identity token of user ${credentials.auth.username}` : `the credentials of user ${credentials.auth.username}`;
    return `${head} with ${who} from ${credentials.origin} (${said}); expected ${credentials.auth.identitytoken ? "a token" : "a username and password"} that registry accepts, or a fixed entry in ${credentials.origin}`;
  }
  if (credentials?.helper) {
    return `${head} (${said}); ${credentials.configFile} leaves its credentials to the helper docker-credential-${credentials.helper}, which Berth does not run; ${expected.replace(", or docker login", ", or an auths entry with username and password from docker login")}`;
  }
  return `${head} without credentials (${said}); ${expected}`;
}

import { createHash } from "node:crypto";
import type { DesiredService } from "../../../src/desired/model.ts";
import { swarmServiceName } from "./names.ts";

/** Where a secret env value is mounted in a task: /run/secrets/berth-env.<VARIABLE>. */
export const SECRET_FILE_PREFIX = "berth-env.";

/** A secret env variable of a Service and its value (never logged, never stored). */
export interface SecretVariable {
  variable: string;
  value: string;
}

/** A Swarm secret a task mounts for one env variable. */
export interface TaskSecret {
  variable: string;
  name: string;
  /** Empty while it does not exist yet (plan). */
  id: string;
}

/** What the task spec needs for a Service with secret env values: the secrets, and the command it runs. */
export interface SecretInputs {
  secrets: TaskSecret[];
  /** The process the task runs (entrypoint then arguments, the image's where the manifest sets none). */
  argv: string[];
}

/** The env variables whose values come from secret sources (env files, SOPS, the daemon's environment). */
export function secretVariables(service: DesiredService): SecretVariable[] {
  const secret = new Set(service.secretNames);
  return (service.template.Env ?? []).flatMap((entry) => {
    const at = entry.indexOf("=");
    const variable = entry.slice(0, at);
    const value = entry.slice(at + 1);
    // Swarm keeps no empty secret, and an empty value hides nothing: it stays in the spec's env.
    return secret.has(variable) && value !== "" ? [{ variable, value }] : [];
  });
}

/**
 * The Swarm secret of one variable at one revision: a new revision makes a
 * new version (Swarm secrets cannot change), named after the service, the
 * variable and a digest of the revision (which never reveals the value).
 */
export function secretName(service: DesiredService, variable: string): string {
  const digest = createHash("sha256").update(`${service.specHash}\0${variable}`).digest("hex").slice(0, 12);
  const name = `${swarmServiceName(service)}.${variable}.${digest}`;
  // Swarm takes names of up to 64 characters: a long one keeps its start and the digest (which already tells variables apart).
  return name.length <= 64 ? name : `${name.slice(0, 64 - digest.length - 1)}.${digest}`;
}

/**
 * The task's command: a shell reads each secret file into its variable
 * (keeping trailing newlines) and then runs the real process in its place,
 * so the application sees the same environment as on a single host while
 * the values stay out of the service spec. The image needs /bin/sh.
 */
export function withSecretEnv(argv: readonly string[], variables: readonly string[]): { Command: string[]; Args: string[] } {
  // Names are shell names (checked before): a missing file stops the task (set -e) rather than run without the value.
  const reads = variables.map((v) => `${v}="$(cat '/run/secrets/${SECRET_FILE_PREFIX}${v}' && printf x)"; export ${v}="\${${v}%x}"`);
  return { Command: ["/bin/sh", "-c", `set -e; ${reads.join("; ")}; exec "$@"`, "berth-secret-env"], Args: [...argv] };
}

/** What a container runs, as Docker decides it: an entrypoint set in the manifest drops the image's command. */
export function processOf(service: DesiredService, image: { entrypoint?: string[] | null; cmd?: string[] | null }): string[] {
  const entrypoint = (service.template.Entrypoint as string[] | undefined) ?? image.entrypoint ?? [];
  const cmd = (service.template.Cmd as string[] | undefined) ?? (service.template.Entrypoint ? [] : (image.cmd ?? []));
  return [...entrypoint, ...cmd];
}

import type { HealthCheck } from "../manifests/types.ts";
import type { ContainerTemplate } from "./container-spec.ts";
import type { DesiredService } from "./model.ts";

/** Marks an env entry whose value is a secret and was not stored. */
const SECRET_PLACEHOLDER = "\u0000berth-secret";

/** What Berth keeps of a rolled-out revision to restore it later: the container spec, never a secret value. */
export interface RevisionSpec {
  revision: string;
  image: { ref: string; pullPolicy: DesiredService["image"]["pullPolicy"]; built: boolean };
  template: ContainerTemplate;
  extraNetworks: string[];
  healthCheck?: HealthCheck;
  secretNames: string[];
}

/** Thrown when a stored revision cannot be turned back into a runnable spec. */
export class RevisionRestoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RevisionRestoreError";
  }
}

export { revisionHash, type RevisionInput } from "./revision-hash.ts";

const nameOf = (entry: string) => entry.slice(0, entry.indexOf("=") < 0 ? entry.length : entry.indexOf("="));

/** The storable spec of a service's current revision, secret values replaced by a placeholder. */
export function revisionSpecOf(service: DesiredService): RevisionSpec {
  const secret = new Set(service.secretNames);
  const env = (service.template.Env ?? []).map((entry) => (secret.has(nameOf(entry)) ? `${nameOf(entry)}=${SECRET_PLACEHOLDER}` : entry));
  return {
    revision: service.specHash,
    image: { ref: service.image.ref, pullPolicy: service.image.pullPolicy, built: !!service.image.build },
    template: { ...service.template, Env: env },
    extraNetworks: service.extraNetworks,
    healthCheck: service.healthCheck,
    secretNames: service.secretNames,
  };
}

/**
 * The service as it ran at a stored revision. Secrets are not versioned with
 * revisions: their values come from the current manifests' sources, by name,
 * as a Kubernetes rollback keeps today's Secret objects.
 */
export function desiredAtRevision(current: DesiredService, stored: RevisionSpec): DesiredService {
  const values = new Map((current.template.Env ?? []).map((entry) => [nameOf(entry), entry]));
  const env = (stored.template.Env ?? []).map((entry) => {
    if (!entry.endsWith(`=${SECRET_PLACEHOLDER}`)) return entry;
    const now = values.get(nameOf(entry));
    if (now === undefined || !current.secretNames.includes(nameOf(entry))) {
      throw new RevisionRestoreError(`revision ${stored.revision.slice(0, 12)} of ${current.key} needs secret ${nameOf(entry)}, which the manifests no longer provide; expected it in an env file or the daemon's environment again`);
    }
    return now;
  });
  return {
    ...current,
    specHash: stored.revision,
    // An old build context is gone: a built image can only be reused, never built again.
    image: { ref: stored.image.ref, pullPolicy: stored.image.built ? "Never" : stored.image.pullPolicy },
    template: { ...stored.template, Env: env },
    extraNetworks: stored.extraNetworks,
    healthCheck: stored.healthCheck,
    secretNames: stored.secretNames,
    error: undefined,
  };
}

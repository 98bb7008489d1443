import type { DesiredState } from "../manifests/load.ts";
import type { Environment } from "../manifests/types.ts";

/** --adopt-compose cannot say which Environment takes the compose project over. */
export class AdoptFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdoptFlagError";
  }
}

/**
 * `apply --adopt-compose NAME`: the one Environment of the manifests takes
 * compose project NAME over, as `adopt: compose/NAME` in its manifest would.
 */
export function withComposeAdoption(state: DesiredState, project: string): DesiredState {
  const environments = state.resources.filter((r): r is Environment => r.kind === "Environment");
  if (environments.length !== 1) {
    throw new AdoptFlagError(`--adopt-compose ${project} needs exactly one Environment in the manifests, found ${environments.length} (${environments.map((e) => e.metadata.name).join(", ") || "none"}); expected adopt: compose/${project} in the Environment's manifest instead`);
  }
  const [environment] = environments;
  const adopt = `compose/${project}`;
  if (environment!.spec.adopt && environment!.spec.adopt !== adopt) throw new AdoptFlagError(`Environment/${environment!.metadata.name} already adopts ${environment!.spec.adopt}; expected one compose project, e.g. drop --adopt-compose`);
  const resources = state.resources.map((r) => (r === environment ? { ...r, spec: { ...environment!.spec, adopt } } : r));
  return { ...state, resources };
}

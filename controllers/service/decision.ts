import type { ContainerHealth, ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import type { RevisionSpec } from "../../src/desired/revision.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import type { ServiceAction } from "./plan.ts";
import type { Pin } from "./pins.ts";
import type { ServiceFacts } from "./phase.ts";
import type { RolloutInput, RolloutRecord } from "./rollout-machine.ts";

/** The deploymentId of a rollout begun this pass, until its row is opened. */
export const NEW_DEPLOYMENT = 0;

/** What one pass observed: Docker's containers, networks, volumes and images, and the health Berth knows. */
export interface ServiceWorld {
  now: number;
  /** Berth's containers in the service's environment (dependencies are judged from them). */
  containers: readonly ObservedContainer[];
  /** Berth's containers on the target that publish host ports, in any environment. */
  portHolders: readonly ObservedContainer[];
  /** Names of the environment's networks and volumes that exist. */
  networks: readonly string[];
  volumes: readonly string[];
  /** Image refs looked up this pass, and whether each is on the target. */
  images: Readonly<Record<string, boolean>>;
  /** Berth's own probe status per container id (http and tcp checks, and exec results read from Docker). */
  probed: Readonly<Record<string, ContainerHealth | undefined>>;
  /** The last output of a container's check. */
  checkOutput: Readonly<Record<string, string | undefined>>;
  /** Services declared in the target's environments, as `<environment>/<service>`: others' containers are leftovers. */
  declared: ReadonlySet<string>;
  /** Containers of the compose project the environment takes over, of this service (compose's labels). */
  adoptees?: readonly Adoptee[];
}

/** A container another tool (docker compose) made for this service, that Berth replaces. */
export interface Adoptee {
  id: string;
  name: string;
  state: string;
}

/** What the store holds about the service. */
export interface ServiceRecords {
  rollout?: RolloutRecord;
  pin?: Pin;
  /** The revision it last ran successfully. */
  deployed?: string;
  /** Any rollout on record. */
  hasHistory: boolean;
  /** The service at stored revisions (pinned, rolling out, previous), by spec hash. */
  at: ReadonlyMap<string, DesiredService>;
  /** The stored spec of the deployed revision: what `plan` compares the manifest with. */
  deployedSpec?: RevisionSpec;
  /** Dependencies judged by the revision they run now (a pin or a rollout in flight holds them elsewhere). */
  peers: ReadonlyMap<string, DesiredService>;
  /** The backup a running `berth restore` puts into the service's volume: the service is held meanwhile. */
  restoring?: number;
}

/** Store writes a pass makes before any Docker action, so a crash never loses a decision. */
export interface RecordWrites {
  /** Open a deployments row and store the revision's spec; records of this pass carry deploymentId NEW_DEPLOYMENT until then. */
  begin?: Omit<RolloutInput, "deploymentId"> & { image: string; spec: RevisionSpec };
  /** The record to write; null removes it (the rollout ended). */
  rollout?: RolloutRecord | null;
  /** The final record of a rollout that ended this pass (never stored; its events are). */
  ended?: RolloutRecord;
  /** Every record the pass moved the rollout through, in order (a new rollout's first included): its events. */
  passed?: RolloutRecord[];
  finish?: { deploymentId: number; status: "success" | "failed" | "rolled_back"; error?: string; healthCheckPassed?: boolean };
  pin?: Pin | null;
}

export interface ServiceDecision {
  actions: ServiceAction[];
  writes: RecordWrites;
  facts: ServiceFacts;
  /** What this pass means, as `plan` shows it; none when nothing changes. */
  change?: PlanChange;
  /** Why the pass cannot converge. `terminal`: waiting will not fix it (apply --wait ends at once); `retry`: back off and try again. */
  error?: { message: string; terminal: boolean; retry: boolean };
}

export interface DecideOptions {
  pollMs?: number;
}

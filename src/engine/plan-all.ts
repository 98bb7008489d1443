import { planEnvironment, describeEnvironmentAction, type EnvironmentAction } from "../../controllers/environment/plan.ts";
import { describeServiceAction, planImage, planService, type ServiceAction } from "../../controllers/service/plan.ts";
import type { DockerDriver } from "../docker/driver.ts";
import { observe, type Observed } from "../docker/observe.ts";
import type { DesiredModel } from "../desired/model.ts";
import { messageOf } from "./actor-events.ts";

export interface EnvironmentPlan {
  environment: string;
  declared: boolean;
  actions: EnvironmentAction[];
  services: { service: string; actions: ServiceAction[]; error?: string }[];
}

export interface TargetPlan {
  target: string;
  error?: string;
  environments: EnvironmentPlan[];
}

/** What a reconcile would do on every target, computed read-only: one observation per target. */
export async function planAll(model: DesiredModel, driverFor: (target: string) => DockerDriver): Promise<TargetPlan[]> {
  return Promise.all([...model.targets.keys()].map((target) => planTarget(model, target, driverFor)));
}

async function planTarget(model: DesiredModel, target: string, driverFor: (target: string) => DockerDriver): Promise<TargetPlan> {
  let driver: DockerDriver;
  let observed: Observed;
  try {
    driver = driverFor(target);
    await driver.ping();
    observed = await observe(driver);
  } catch (error) {
    return { target, error: messageOf(error), environments: [] };
  }
  const scoped = (environment: string): Observed => ({
    containers: observed.containers.filter((c) => c.environment === environment),
    networks: observed.networks.filter((n) => n.environment === environment),
    volumes: observed.volumes.filter((v) => v.environment === environment),
  });
  const plans: EnvironmentPlan[] = [];
  for (const env of model.environments.values()) {
    if (env.target !== target) continue;
    const mine = scoped(env.environment);
    const services = [];
    for (const s of env.services) {
      if (s.error) {
        services.push({ service: s.service, actions: [], error: s.error });
        continue;
      }
      const actions = planService(s, mine.containers.filter((c) => c.service === s.service));
      const image = actions.some((a) => a.type === "create") ? planImage(s.image, await driver.imageExists(s.image.ref)) : [];
      services.push({ service: s.service, actions: [...image, ...actions] });
    }
    plans.push({ environment: env.environment, declared: true, actions: planEnvironment(env, mine, { allowPrune: model.complete }), services });
  }
  const orphans = new Set(observed.containers.map((c) => c.environment).concat(observed.networks.map((n) => n.environment)));
  for (const environment of orphans) {
    if (!environment || model.environments.has(environment)) continue;
    plans.push({ environment, declared: false, actions: planEnvironment(undefined, scoped(environment), { allowPrune: model.complete }), services: [] });
  }
  return { target, environments: plans };
}

/** Number of changes in a set of plans. */
export function countChanges(plans: readonly TargetPlan[]): number {
  return plans.flatMap((t) => t.environments).reduce((n, e) => n + e.actions.length + e.services.reduce((m, s) => m + s.actions.length, 0), 0);
}

const SYMBOL: Record<string, string> = { create: "+", build: "+", pull: "+", start: "~", stop: "~", remove: "-" };

/** Human-readable plan, grouped by target, environment and service. */
export function renderPlans(plans: readonly TargetPlan[]): string {
  const lines: string[] = [];
  for (const t of plans) {
    lines.push(`DeploymentTarget/${t.target}${t.error ? `: cannot plan: ${t.error}` : ""}`);
    for (const e of t.environments) {
      const changes = e.actions.length + e.services.reduce((n, s) => n + s.actions.length, 0);
      const errors = e.services.filter((s) => s.error).length;
      lines.push(`  Environment/${e.environment}${e.declared ? "" : " (no longer declared)"}${changes + errors === 0 ? ": up to date" : ""}`);
      for (const a of e.actions) lines.push(`    ${SYMBOL[a.type.split("-")[0]!]} ${describeEnvironmentAction(a)}`);
      for (const s of e.services) {
        if (!s.actions.length && !s.error) continue;
        lines.push(`    Service/${s.service}${s.error ? `: cannot deploy: ${s.error}` : ""}`);
        for (const a of s.actions) lines.push(`      ${SYMBOL[a.type]} ${describeServiceAction(a)}`);
      }
    }
  }
  const changes = countChanges(plans);
  lines.push(changes === 0 ? "No changes: Docker matches the manifests." : `${changes} change${changes === 1 ? "" : "s"} pending.`);
  return `${lines.join("\n")}\n`;
}

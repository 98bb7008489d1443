import type { Driver } from "../docker/driver.ts";
import { LABEL, ownerFilter } from "../docker/labels.ts";
import { observeContainers } from "../docker/observe.ts";
import type { DesiredModel } from "../desired/model.ts";
import type { OrphanEnvironment } from "./controller.ts";

/**
 * Copies of environments where no manifest declares them (another target or
 * project, or deleted), by environment name: their passes prune them.
 */
export class Orphans {
  private readonly byEnvironment = new Map<string, OrphanEnvironment[]>();

  /** `found` hears each new copy, so its environment is queued. */
  constructor(private readonly found: (environment: string) => void) {}

  of(environment: string): OrphanEnvironment[] {
    return this.byEnvironment.get(environment) ?? [];
  }

  names(): string[] {
    return [...this.byEnvironment.keys()];
  }

  onTarget(target: string): string[] {
    return [...this.byEnvironment].filter(([, owners]) => owners.some((o) => o.target === target)).map(([name]) => name);
  }

  add(environment: string, owner: OrphanEnvironment): void {
    const owners = this.of(environment);
    if (owners.some((o) => o.target === owner.target && o.project === owner.project)) return;
    this.byEnvironment.set(environment, [...owners, owner]);
    this.found(environment);
  }

  forget(environment: string, owner: OrphanEnvironment): void {
    this.keep(environment, this.of(environment).filter((o) => o.target !== owner.target || o.project !== owner.project));
  }

  /** A new model: environments that left or moved leave a copy behind; copies the model declares again are not orphans. */
  modelChanged(previous: DesiredModel, model: DesiredModel): void {
    for (const old of previous.environments.values()) {
      const now = model.environments.get(old.environment);
      if (!now || now.target !== old.target || now.project !== old.project) this.add(old.environment, { project: old.project, target: old.target });
    }
    for (const name of this.names()) {
      const declared = model.environments.get(name);
      this.keep(name, this.of(name).filter((o) => !declared || o.target !== declared.target || o.project !== declared.project));
    }
  }

  /** Looks on a target for Berth's objects of environments no manifest places there. */
  async discover(driver: Driver, model: DesiredModel): Promise<void> {
    const target = driver.target;
    const containers = await observeContainers(driver, {});
    const networks = await driver.listNetworks(ownerFilter({ target }));
    const seen = [...containers.map((c) => ({ project: c.project, environment: c.environment })), ...networks.map((n) => ({ project: n.Labels?.[LABEL.project] ?? "", environment: n.Labels?.[LABEL.environment] ?? "" }))];
    for (const { project, environment } of seen) {
      const declared = model.environments.get(environment);
      if (!environment || (declared && declared.target === target && declared.project === project)) continue;
      this.add(environment, { project, target });
    }
  }

  private keep(environment: string, owners: OrphanEnvironment[]): void {
    if (owners.length) this.byEnvironment.set(environment, owners);
    else this.byEnvironment.delete(environment);
  }
}

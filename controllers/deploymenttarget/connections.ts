import { createActor, fromPromise, type Actor } from "xstate";
import { CachedDriver } from "../../src/docker/read-cache.ts";
import { ownerFilter } from "../../src/docker/labels.ts";
import { hashOf } from "../../src/desired/hash.ts";
import { TargetUnavailableError } from "../../src/engine/errors.ts";
import type { ConnectOptions, TargetConnections, TargetView } from "../../src/engine/targets.ts";
import type { DeploymentTarget } from "../../src/manifests/types.ts";
import { targetMachine } from "./machine.ts";

interface Connection {
  specHash: string;
  actor: Actor<typeof targetMachine>;
  driver?: CachedDriver;
  error?: Error;
}

/**
 * One connection machine per DeploymentTarget: connect, follow the engine's
 * events while active, back off while unreachable. A changed target spec gets
 * a new driver and machine.
 */
export function connectTargets(options: ConnectOptions): TargetConnections {
  const connections = new Map<string, Connection>();

  const close = (name: string) => {
    const existing = connections.get(name);
    existing?.actor.stop();
    existing?.driver?.close();
    connections.delete(name);
  };

  const start = (target: DeploymentTarget, specHash: string) => {
    const name = target.metadata.name;
    const entry: Partial<Connection> & { specHash: string } = { specHash };
    try {
      // Every reader of the target shares one look at it, as an informer's cache; events and Berth's own changes refresh it.
      entry.driver = new CachedDriver(options.connect(target));
    } catch (error) {
      // The connect step reports it; the target stays unreachable, nothing else stops.
      entry.error = error instanceof Error ? error : new Error(String(error));
    }
    const actor = createActor(
      targetMachine.provide({
        actors: {
          connect: fromPromise(async () => {
            if (!entry.driver) throw entry.error;
            const started = performance.now();
            entry.driver!.invalidate();
            await entry.driver.ping();
            const latencyMs = Math.round(performance.now() - started);
            const version = await entry.driver.version();
            if (target.spec.type === "swarm") await mustLeadSwarm(entry.driver, name);
            return { version: version.Version, apiVersion: version.ApiVersion, latencyMs };
          }),
          watchEvents: fromPromise(async ({ signal }) => {
            if (!options.watchEvents) return new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
            await entry.driver!.events(ownerFilter({ target: name }), (event) => {
              entry.driver!.invalidate();
              options.listener.event(name, event);
            }, signal);
          }),
        },
      }),
      { input: { name } },
    );
    let lastPhase = "";
    let seen = 0;
    actor.subscribe((snapshot) => {
      const { phase, error, engine, connections: count } = snapshot.context;
      if (phase === lastPhase && count === seen) return;
      lastPhase = phase;
      options.listener.changed(name, phase, engine, error);
      if (phase === "Active" && count !== seen) options.listener.connected(name);
      seen = count;
    });
    connections.set(name, { ...entry, actor } as Connection);
    actor.start();
  };

  const phaseOf = (name: string) => connections.get(name)?.actor.getSnapshot().context.phase;

  return {
    sync(targets) {
      for (const [name, target] of targets) {
        const specHash = hashOf(target.spec);
        if (connections.get(name)?.specHash === specHash) continue;
        close(name);
        start(target, specHash);
      }
      for (const name of [...connections.keys()]) if (!targets.has(name)) close(name);
    },
    driver(name) {
      const entry = connections.get(name);
      if (!entry?.driver || phaseOf(name) !== "Active") throw new TargetUnavailableError(name, entry?.actor.getSnapshot().context.error);
      return entry.driver;
    },
    isActive: (name) => phaseOf(name) === "Active",
    refresh() {
      for (const { driver } of connections.values()) driver?.refresh();
    },
    async awaitRetirements() {
      await Promise.all([...connections.values()].map(({ driver }) => driver?.awaitRetirements()));
    },
    status(): TargetView[] {
      return [...connections].map(([name, { actor }]) => {
        const { phase, engine, error } = actor.getSnapshot().context;
        return { name, phase, engine, error };
      });
    },
    stop() {
      for (const name of [...connections.keys()]) close(name);
    },
  };
}

/** A swarm target is reached through a manager: only a manager takes service changes. */
async function mustLeadSwarm(driver: CachedDriver, name: string): Promise<void> {
  const node = await driver.swarm!.node();
  if (node.manager) return;
  const why = node.state === "active" ? "its engine is a Swarm worker, not a manager" : `its engine is not in Swarm mode (state ${node.state})`;
  throw new Error(`DeploymentTarget/${name} has type swarm but ${why}; expected a manager node: run docker swarm init there, or point docker.host or ssh at a manager`);
}

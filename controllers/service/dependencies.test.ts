import { describe, expect, it } from "vitest";
import type { ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import { unmetDependencies } from "./dependencies.ts";

function svc(service: string, overrides: Partial<DesiredService> = {}): DesiredService {
  return { service, specHash: `${service}-hash`, replicas: 1, suspended: false, dependsOn: [], ...overrides } as DesiredService;
}

function container(service: string, overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  return { id: `${service}-id`, name: service, project: "p", environment: "e", service, slot: 0, specHash: `${service}-hash`, state: "running", created: 1, addresses: {}, published: {}, networks: [], volumes: [], ...overrides };
}

const healthFromDocker = (c: ObservedContainer) => c.health;

describe("unmetDependencies", () => {
  const db = svc("db", { healthCheck: { exec: { command: ["true"] } } as DesiredService["healthCheck"] });
  const migrate = svc("migrate");
  const cases = [
    { name: "started: dependency running", condition: "service_started", containers: [container("db")], want: [] },
    { name: "started: dependency missing", condition: "service_started", containers: [], want: ["Service/db to start (0/1 running)"] },
    { name: "started: dependency of an old spec does not count", condition: "service_started", containers: [container("db", { specHash: "old" })], want: ["Service/db to start (0/1 running)"] },
    { name: "healthy: health still starting", condition: "service_healthy", containers: [container("db", { health: "starting" })], want: ["Service/db to be healthy (0/1 healthy)"] },
    { name: "healthy: healthy", condition: "service_healthy", containers: [container("db", { health: "healthy" })], want: [] },
    { name: "completed: still running", condition: "service_completed_successfully", dep: "migrate", containers: [container("migrate")], want: ["Service/migrate to complete successfully"] },
    { name: "completed: exited 0", condition: "service_completed_successfully", dep: "migrate", containers: [container("migrate", { state: "exited", exitCode: 0 })], want: [] },
    { name: "completed: exited 1", condition: "service_completed_successfully", dep: "migrate", containers: [container("migrate", { state: "exited", exitCode: 1 })], want: ["Service/migrate to complete successfully"] },
  ] as const;
  it.each(cases)("$name", (c) => {
    const dep = "dep" in c ? c.dep : "db";
    const web = svc("web", { dependsOn: [{ service: dep, condition: c.condition }] });
    const peers = new Map([["db", db], ["migrate", migrate], ["web", web]]);
    expect(unmetDependencies(web, peers, [...c.containers], healthFromDocker)).toEqual(c.want);
  });
});

import { describe, expect, it } from "vitest";
import type { ContainerHealth, ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import { observedContainer } from "../../test/support/containers.ts";
import type { HealthOf } from "./dependencies.ts";
import { serviceFacts, servicePhase, type ServiceFacts, type ServicePhase } from "./phase.ts";

/** The revision the manifest asks for (container names end in -aaaaaaa). */
const NEW = "a".repeat(64);
/** An older revision (names end in -bbbbbbb). */
const OLD = "b".repeat(64);

function facts(desired: number, running: number, ready: number, overrides: Partial<ServiceFacts> = {}): ServiceFacts {
  return { desired, running, ready, converged: running === desired && ready === desired, message: `${ready}/${desired} ready`, ...overrides };
}

describe("servicePhase", () => {
  it.each([
    { name: "no facts, no error", facts: undefined, error: undefined, phase: "Configured" },
    { name: "no facts, an error", facts: undefined, error: "env file .env.web is missing", phase: "Failed" },
    { name: "desired 0, running 0", facts: facts(0, 0, 0), error: undefined, phase: "Stopped" },
    { name: "desired 0, one still running", facts: facts(0, 1, 1), error: undefined, phase: "Stopping" },
    { name: "desired 0, running but none ready", facts: facts(0, 2, 0), error: undefined, phase: "Stopping" },
    { name: "all running and ready", facts: facts(2, 2, 2), error: undefined, phase: "Running" },
    { name: "more running and ready than desired", facts: facts(1, 3, 3), error: undefined, phase: "Running" },
    { name: "nothing running yet", facts: facts(2, 0, 0), error: undefined, phase: "Starting" },
    { name: "fewer running than desired", facts: facts(3, 2, 2), error: undefined, phase: "Starting" },
    { name: "all running, not all ready", facts: facts(2, 2, 1), error: undefined, phase: "Starting" },
    { name: "ready counted beyond running does not make it Running", facts: facts(2, 1, 2), error: undefined, phase: "Starting" },
    { name: "all running and ready, but an error", facts: facts(2, 2, 2), error: "image pull failed", phase: "Failed" },
    { name: "stopped, but an error", facts: facts(0, 0, 0), error: "socket hang up", phase: "Failed" },
    { name: "a rollout owns the containers", facts: facts(2, 0, 0, { rolling: true }), error: undefined, phase: "Updating" },
    { name: "a rollout of a service scaled to zero", facts: facts(0, 0, 0, { rolling: true }), error: undefined, phase: "Updating" },
    { name: "held on another revision, all running", facts: facts(1, 1, 1, { held: "rolled back" }), error: undefined, phase: "Running" },
    { name: "an empty error string counts as no error", facts: facts(1, 1, 1), error: "", phase: "Running" },
  ] satisfies { name: string; facts: ServiceFacts | undefined; error: string | undefined; phase: ServicePhase }[])("$name -> $phase", ({ facts: found, error, phase }) => {
    expect(servicePhase(found, error)).toBe(phase);
  });
});

/** shop/dev/web at revision NEW; a cast like the other controller tests: only these fields are read. */
function web(overrides: Partial<DesiredService> = {}): DesiredService {
  return { key: "Service/dev/web", project: "shop", environment: "dev", service: "web", specHash: NEW, replicas: 2, suspended: false, restartPolicy: "unless-stopped", dependsOn: [], ...overrides } as DesiredService;
}

const CHECK = { exec: { command: ["true"] }, interval: "10s", timeout: "5s", retries: 3, startPeriod: "0s" } satisfies DesiredService["healthCheck"];

const c = (slot: number, overrides: Partial<ObservedContainer> = {}) => observedContainer(slot, overrides.specHash ?? NEW, overrides);

/** Docker's health status, as the container reports it. */
const fromDocker: HealthOf = (container) => container.health;
const healthy = (health: ContainerHealth) => ({ health });

describe("serviceFacts.of", () => {
  it.each([
    {
      name: "every slot running, no health check -> all ready, no requeue",
      service: web(),
      containers: [c(0), c(1)],
      want: { desired: 2, running: 2, ready: 2, message: "2/2 running, 2 ready", requeueAfterMs: undefined },
    },
    {
      name: "one slot missing",
      service: web(),
      containers: [c(1)],
      want: { desired: 2, running: 1, ready: 1, message: "1/2 running, 1 ready", requeueAfterMs: undefined },
    },
    {
      name: "health check: one healthy, one starting -> look again in 1 s",
      service: web({ healthCheck: CHECK }),
      containers: [c(0, healthy("healthy")), c(1, healthy("starting"))],
      want: { desired: 2, running: 2, ready: 1, message: "2/2 running, 1 ready", requeueAfterMs: 1_000 },
    },
    {
      name: "health check: both healthy",
      service: web({ healthCheck: CHECK }),
      containers: [c(0, healthy("healthy")), c(1, healthy("healthy"))],
      want: { desired: 2, running: 2, ready: 2, message: "2/2 running, 2 ready", requeueAfterMs: undefined },
    },
    {
      name: "containers of an older revision, another service or beyond the replica count do not count",
      service: web(),
      containers: [c(0, { specHash: OLD }), c(1, { service: "api" }), c(2), c(-1)],
      want: { desired: 2, running: 0, ready: 0, message: "0/2 running, 0 ready", requeueAfterMs: undefined },
    },
    {
      name: "an exited container under unless-stopped is neither running nor ready",
      service: web(),
      containers: [c(0), c(1, { state: "exited", exitCode: 0 })],
      want: { desired: 2, running: 1, ready: 1, message: "1/2 running, 1 ready", requeueAfterMs: undefined },
    },
    {
      name: "a created (never started) container is not running",
      service: web({ replicas: 1 }),
      containers: [c(0, { state: "created" })],
      want: { desired: 1, running: 0, ready: 0, message: "0/1 running, 0 ready", requeueAfterMs: undefined },
    },
    {
      name: "restart no: a container that exited 0 is done, counted running and ready",
      service: web({ restartPolicy: "no" }),
      containers: [c(0, { state: "exited", exitCode: 0 }), c(1)],
      want: { desired: 2, running: 2, ready: 2, message: "2/2 running, 2 ready", requeueAfterMs: undefined },
    },
    {
      name: "restart on-failure: a container that exited 1 is not done",
      service: web({ restartPolicy: "on-failure", replicas: 1 }),
      containers: [c(0, { state: "exited", exitCode: 1 })],
      want: { desired: 1, running: 0, ready: 0, message: "0/1 running, 0 ready", requeueAfterMs: undefined },
    },
    {
      name: "restart no with a health check: a finished container is ready without a healthy status",
      service: web({ restartPolicy: "no", replicas: 1, healthCheck: CHECK }),
      containers: [c(0, { state: "exited", exitCode: 0 })],
      want: { desired: 1, running: 1, ready: 1, message: "1/1 running, 1 ready", requeueAfterMs: undefined },
    },
    {
      name: "suspended: wants none, counts every running container (any revision), never waits on health",
      service: web({ suspended: true, healthCheck: CHECK }),
      containers: [c(0, { specHash: OLD }), c(1, healthy("starting")), c(2, { state: "exited", exitCode: 0 })],
      // The default message counts only the current revision's containers; not pinned here.
      want: { desired: 0, running: 2, ready: 0, message: expect.any(String) as string, requeueAfterMs: undefined },
    },
    {
      name: "suspended and everything stopped",
      service: web({ suspended: true }),
      containers: [c(0, { state: "exited", exitCode: 0 })],
      want: { desired: 0, running: 0, ready: 0, message: "0/0 running, 0 ready", requeueAfterMs: undefined },
    },
    {
      name: "scaled to zero, nothing left",
      service: web({ replicas: 0 }),
      containers: [],
      want: { desired: 0, running: 0, ready: 0, message: "0/0 running, 0 ready", requeueAfterMs: undefined },
    },
  ])("$name", ({ service, containers, want }) => {
    expect(serviceFacts.of(service, containers, fromDocker, false, undefined, undefined)).toEqual({ ...want, converged: false });
  });

  it("uses the health judge it is given, not Docker's status", () => {
    const service = web({ replicas: 1, healthCheck: CHECK });
    const container = c(0, healthy("starting"));
    const probed: HealthOf = (seen, judged) => (seen.id === container.id && judged === service ? "healthy" : undefined);
    expect(serviceFacts.of(service, [container], probed, true, undefined, undefined)).toMatchObject({ ready: 1, requeueAfterMs: undefined });
    expect(serviceFacts.of(service, [container], fromDocker, true, undefined, undefined)).toMatchObject({ ready: 0, requeueAfterMs: 1_000 });
  });

  it.each([
    { name: "an explicit message and requeue win", message: "waiting for Service/db to start", requeueAfterMs: 5_000, want: { message: "waiting for Service/db to start", requeueAfterMs: 5_000 } },
    { name: "an explicit requeue of 0 wins over the health wait", message: undefined, requeueAfterMs: 0, want: { message: "2/2 running, 1 ready", requeueAfterMs: 0 } },
  ])("$name", ({ message, requeueAfterMs, want }) => {
    const service = web({ healthCheck: CHECK });
    const result = serviceFacts.of(service, [c(0, healthy("healthy")), c(1, healthy("starting"))], fromDocker, true, message, requeueAfterMs);
    expect(result).toEqual({ desired: 2, running: 2, ready: 1, converged: true, ...want });
  });

  it.each([
    { containers: [c(0), c(1)], phase: "Running" },
    { containers: [c(0)], phase: "Starting" },
    { containers: [], phase: "Starting" },
  ] satisfies { containers: ObservedContainer[]; phase: ServicePhase }[])("$containers.length of 2 containers -> $phase", ({ containers, phase }) => {
    expect(servicePhase(serviceFacts.of(web(), containers, fromDocker, true, undefined, undefined), undefined)).toBe(phase);
  });
});

describe("serviceFacts.none and serviceFacts.rolling", () => {
  it("none: nothing counted, not converged, the message kept; Failed with its error", () => {
    const none = serviceFacts.none("revision spec unknown");
    expect(none).toEqual({ desired: 0, running: 0, ready: 0, converged: false, message: "revision spec unknown" });
    expect(servicePhase(none, undefined)).toBe("Stopped");
    expect(servicePhase(none, "revision spec unknown")).toBe("Failed");
  });

  it.each([
    { name: "running service", service: web({ replicas: 3 }), desired: 3 },
    { name: "suspended service", service: web({ replicas: 3, suspended: true }), desired: 0 },
  ])("rolling, $name: desires $desired, marks the rollout -> Updating", ({ service, desired }) => {
    const rolling = serviceFacts.rolling(service, "rollout of revision aaaaaaaaaaaa: Deploying", 500);
    expect(rolling).toEqual({ desired, running: 0, ready: 0, converged: false, rolling: true, message: "rollout of revision aaaaaaaaaaaa: Deploying", requeueAfterMs: 500 });
    expect(servicePhase(rolling, undefined)).toBe("Updating");
  });
});

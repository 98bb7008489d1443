import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { LABEL } from "../../../src/docker/labels.ts";
import type { SwarmService, SwarmTask } from "../../../src/docker/swarm.ts";
import type { Spec } from "../../../test/support/shop.ts";
import { shopService } from "../../../test/support/shop-services.ts";
import { decideSwarmService, type SwarmRecords } from "./decide.ts";
import { processOf, secretName, secretVariables } from "./secrets.ts";
import { swarmServiceSpec } from "./spec.ts";

// Service web of project shop in Environment dev on a swarm target, built by the real loader and model.
const SWARM = { type: "swarm", docker: { host: "unix:///var/run/docker.sock" } };
const web = (spec: Spec) => shopService({ services: { web: spec }, target: SWARM }, "dev/web");
const CHECK = { http: { path: "/", port: 8080 } };
const WEB1 = await web({ image: "web:1", replicas: 2, healthCheck: CHECK });
const WEB2 = await web({ image: "web:2", replicas: 2, healthCheck: CHECK });
const NOW = 1_700_000_000_000;

function running(spec: Docker.ServiceSpec, options: Partial<SwarmService> = {}): SwarmService {
  return { id: "svc1", version: 7, spec, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z", ...options };
}

function tasks(revision: string, states: string[]): SwarmTask[] {
  return states.map((state, i) => ({ id: `t${i}`, slot: i + 1, state, desiredState: "running", labels: { [LABEL.specHash]: revision }, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" }));
}

const rollout = (revision: string, status: NonNullable<SwarmRecords["latest"]>["status"], error?: string): SwarmRecords => ({ latest: { id: 4, revision, status, startedAt: NOW - 10_000, error } });

describe("a Service on a swarm target", () => {
  it("maps onto a Swarm service: replicas, its overlay network with the service's name, the check run in the task, update and rollback settings", () => {
    const spec = swarmServiceSpec(WEB1);
    expect(spec.Name).toBe("shop-dev-web");
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 2 } });
    expect(spec.Labels?.[LABEL.specHash]).toBe(WEB1.specHash);
    const task = spec.TaskTemplate as { ContainerSpec: Docker.ContainerSpec; Networks: { Target: string; Aliases: string[] }[] };
    expect(task.Networks).toEqual([{ Target: "shop-dev", Aliases: ["web"] }]);
    expect(task.ContainerSpec.HealthCheck?.Test).toEqual(["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"]);
    expect(spec.UpdateConfig).toMatchObject({ Parallelism: 1, Order: "start-first", FailureAction: "rollback", MaxFailureRatio: 0 });
    expect(spec.RollbackConfig).toMatchObject({ FailureAction: "pause" });
    expect(swarmServiceSpec(WEB1).Labels?.[LABEL.swarmSpec]).toBe(spec.Labels?.[LABEL.swarmSpec]);
  });

  it("places by constraints and spread, or runs one task per node in global mode; placement is part of the revision", async () => {
    const placed = await web({ image: "web:1", global: true, placement: { constraints: ["node.role == worker"], preferences: [{ spread: "node.labels.zone" }] } });
    const spec = swarmServiceSpec(placed);
    expect(spec.Mode).toEqual({ Global: {} });
    expect((spec.TaskTemplate as { Placement: unknown }).Placement).toEqual({ Constraints: ["node.role == worker"], Preferences: [{ Spread: { SpreadDescriptor: "node.labels.zone" } }] });
    expect(placed.specHash).not.toBe((await web({ image: "web:1", global: true })).specHash);
  });

  it("creates a missing service and records a rollout; one removed behind Berth's back is created again as a repair", () => {
    const fresh = decideSwarmService(WEB1, { now: NOW, tasks: [] }, {});
    expect(fresh.actions.map((a) => [a.type, a.reason])).toEqual([["create", "new service"]]);
    expect(fresh.start).toMatchObject({ revision: WEB1.specHash });
    expect(fresh.change?.action).toBe("create");
    const repaired = decideSwarmService(WEB1, { now: NOW, tasks: [] }, rollout(WEB1.specHash, "success"));
    expect(repaired.actions.map((a) => a.reason)).toEqual(["its Swarm service was removed behind Berth's back"]);
    expect(repaired.change?.action).toBe("repair");
  });

  it("updates to a new revision, follows Swarm's update, and records success once every task of it runs", () => {
    const old = running(swarmServiceSpec(WEB1));
    const update = decideSwarmService(WEB2, { now: NOW, service: old, tasks: tasks(WEB1.specHash, ["running", "running"]) }, rollout(WEB1.specHash, "success"));
    expect(update.actions).toMatchObject([{ type: "update", id: "svc1", version: 7 }]);
    expect(update.start).toMatchObject({ revision: WEB2.specHash, previous: WEB1.specHash });

    const moving = running(swarmServiceSpec(WEB2), { updateState: "updating" });
    const waiting = decideSwarmService(WEB2, { now: NOW, service: moving, tasks: [...tasks(WEB2.specHash, ["running"]), ...tasks(WEB1.specHash, ["running"])] }, rollout(WEB2.specHash, "in_progress"));
    expect(waiting.actions).toEqual([]);
    expect(waiting.facts).toMatchObject({ rolling: true, converged: false });
    expect(waiting.finish).toBeUndefined();

    const done = running(swarmServiceSpec(WEB2), { updateState: "completed" });
    const finished = decideSwarmService(WEB2, { now: NOW, service: done, tasks: tasks(WEB2.specHash, ["running", "running"]) }, rollout(WEB2.specHash, "in_progress"));
    expect(finished.finish).toEqual({ id: 4, status: "success" });
    expect(finished.facts).toMatchObject({ converged: true, running: 2, desired: 2 });
  });

  it("records a Swarm rollback as rolled_back with the failed task's error, then holds that revision until the manifest changes", () => {
    const failedTask = { ...tasks(WEB2.specHash, ["failed"])[0]!, desiredState: "shutdown", error: "task: non-zero exit (137): dockerexec: unhealthy container" };
    const back = running(swarmServiceSpec(WEB1), { updateState: "rollback_completed", updateMessage: "rollback completed" });
    const rolledBack = decideSwarmService(WEB2, { now: NOW, service: back, tasks: [...tasks(WEB1.specHash, ["running", "running"]), failedTask] }, rollout(WEB2.specHash, "in_progress"));
    expect(rolledBack.finish).toEqual({ id: 4, status: "rolled_back", error: "Swarm rolled the update back: task: non-zero exit (137): dockerexec: unhealthy container" });
    expect(rolledBack.actions).toEqual([]);

    const held = decideSwarmService(WEB2, { now: NOW, service: back, tasks: tasks(WEB1.specHash, ["running", "running"]) }, rollout(WEB2.specHash, "rolled_back", "unhealthy"));
    expect(held.actions).toEqual([]);
    expect(held.start).toBeUndefined();
    expect(held.facts.held).toMatch(/was rolled back by Swarm: unhealthy; it runs/);
  });

  it("repairs a service scaled or edited behind Berth's back, and leaves dying tasks to Swarm", () => {
    const spec = swarmServiceSpec(WEB1);
    const scaled = running({ ...spec, Mode: { Replicated: { Replicas: 5 } } });
    expect(decideSwarmService(WEB1, { now: NOW, service: scaled, tasks: tasks(WEB1.specHash, ["running", "running"]) }, rollout(WEB1.specHash, "success")).actions).toMatchObject([{ type: "update", reason: "scaled to 5 behind Berth's back; the manifest asks for 2" }]);
    const task = spec.TaskTemplate as { ContainerSpec: Docker.ContainerSpec };
    const edited = running({ ...spec, TaskTemplate: { ...task, ContainerSpec: { ...task.ContainerSpec, Image: "evil:1" } } });
    expect(decideSwarmService(WEB1, { now: NOW, service: edited, tasks: [] }, rollout(WEB1.specHash, "success")).actions.map((a) => a.reason)).toEqual(["its image was changed behind Berth's back to evil:1"]);
    // Swarm pins images to digests: not drift.
    const pinned = running({ ...spec, TaskTemplate: { ...task, ContainerSpec: { ...task.ContainerSpec, Image: "web:1@sha256:abc" } } });
    expect(decideSwarmService(WEB1, { now: NOW, service: pinned, tasks: tasks(WEB1.specHash, ["running", "running"]) }, rollout(WEB1.specHash, "success")).actions).toEqual([]);
    const dying = decideSwarmService(WEB1, { now: NOW, service: running(spec), tasks: tasks(WEB1.specHash, ["running", "failed"]) }, rollout(WEB1.specHash, "success"));
    expect(dying.actions).toEqual([]);
    expect(dying.facts.message).toBe("1/2 tasks running; Swarm is restarting the others");
  });

  it("opens one rollout row per revision however often an update is retried, and remakes a service switched to or from global mode", async () => {
    const old = running(swarmServiceSpec(WEB1));
    const retried = decideSwarmService(WEB2, { now: NOW, service: old, tasks: tasks(WEB1.specHash, ["running", "running"]) }, rollout(WEB2.specHash, "in_progress"));
    expect(retried.actions.map((a) => a.type)).toEqual(["update"]);
    expect(retried.start).toBeUndefined();
    const global = await web({ image: "web:1", global: true, healthCheck: CHECK });
    expect(decideSwarmService(global, { now: NOW, service: old, tasks: [] }, rollout(WEB1.specHash, "success")).actions.map((a) => a.type)).toEqual(["remove", "create"]);
  });

  it("counts a global service done only once Swarm scheduled tasks and all of them run the new revision", async () => {
    const global = await web({ image: "web:1", global: true, healthCheck: CHECK });
    const service = running(swarmServiceSpec(global));
    expect(decideSwarmService(global, { now: NOW, service, tasks: [] }, rollout(global.specHash, "in_progress")).finish).toBeUndefined();
    expect(decideSwarmService(global, { now: NOW, service, tasks: [...tasks(global.specHash, ["running"]), ...tasks(WEB1.specHash, ["running"])] }, rollout(global.specHash, "in_progress")).finish).toBeUndefined();
    expect(decideSwarmService(global, { now: NOW, service, tasks: tasks(global.specHash, ["running", "running", "running"]) }, rollout(global.specHash, "in_progress")).finish).toEqual({ id: 4, status: "success" });
  });

  it("records a rollback Swarm paused as failed, and holds the revision", () => {
    const back = running(swarmServiceSpec(WEB1), { updateState: "rollback_paused", updateMessage: "update rolled back due to failure" });
    const paused = decideSwarmService(WEB2, { now: NOW, service: back, tasks: tasks(WEB1.specHash, ["running"]) }, rollout(WEB2.specHash, "in_progress"));
    expect(paused.finish).toMatchObject({ id: 4, status: "failed" });
    expect(paused.actions).toEqual([]);
    expect(decideSwarmService(WEB2, { now: NOW, service: back, tasks: [] }, rollout(WEB2.specHash, "failed")).facts.held).toMatch(/failed/);
  });

  it("ends a rollout whose tasks no node can take once it has waited five minutes", () => {
    const pending = [{ ...tasks(WEB1.specHash, ["pending"])[0]!, message: "no suitable node (scheduling constraints not satisfied on 1 node)" }];
    const service = running(swarmServiceSpec(WEB1));
    expect(decideSwarmService(WEB1, { now: NOW, service, tasks: pending }, rollout(WEB1.specHash, "in_progress")).finish).toBeUndefined();
    expect(decideSwarmService(WEB1, { now: NOW + 5 * 60_000, service, tasks: pending }, rollout(WEB1.specHash, "in_progress")).finish).toEqual({ id: 4, status: "failed", error: "no node can run its tasks: no suitable node (scheduling constraints not satisfied on 1 node)" });
  });

  it("mounts secret env values as Swarm secrets read in front of the process, keeping them out of the spec's env", async () => {
    const withSecret = await shopService({ services: { web: { image: "web:1", command: ["/app/server", "--port", "8080"], env: [{ name: "MODE", value: "live" }, { name: "TOKEN", valueFrom: { envFile: "app.env", key: "TOKEN" } }] } }, target: SWARM, files: { "app.env": "TOKEN=very-secret-value\n" } }, "dev/web");
    const variables = secretVariables(withSecret);
    expect(variables).toEqual([{ variable: "TOKEN", value: "very-secret-value" }]);
    const name = secretName(withSecret, "TOKEN");
    expect(name).toMatch(/^shop-dev-web\.TOKEN\.[0-9a-f]{12}$/);
    expect(name).not.toContain("very-secret-value");
    const argv = processOf(withSecret, { entrypoint: ["/sbin/tini", "--"], cmd: ["ignored"] });
    expect(argv).toEqual(["/sbin/tini", "--", "/app/server", "--port", "8080"]);
    const spec = swarmServiceSpec(withSecret, { secrets: [{ variable: "TOKEN", name, id: "sec1" }], argv });
    const container = (spec.TaskTemplate as { ContainerSpec: Docker.ContainerSpec }).ContainerSpec;
    expect(JSON.stringify(spec)).not.toContain("very-secret-value");
    expect(container.Env).toEqual(["MODE=live"]);
    expect(container.Secrets).toEqual([{ SecretID: "sec1", SecretName: name, File: { Name: "berth-env.TOKEN", UID: "0", GID: "0", Mode: 0o444 } }]);
    expect(container.Command?.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(container.Args).toEqual(argv);
    expect(container.Command?.[2]).toBe(`set -e; TOKEN="$(cat '/run/secrets/berth-env.TOKEN' && printf x)"; export TOKEN="\${TOKEN%x}"; exec "$@"`);
    // An empty value hides nothing (and Swarm keeps no empty secret): it stays in the env.
    const empty = await shopService({ services: { web: { image: "web:1", env: [{ name: "TOKEN", valueFrom: { envFile: "app.env", key: "TOKEN" } }] } }, target: SWARM, files: { "app.env": "TOKEN=\n" } }, "dev/web");
    expect(secretVariables(empty)).toEqual([]);
    // Swarm names are at most 64 characters.
    const long = await shopService({ services: { web: { image: "web:1", env: [{ name: "A_VERY_LONG_VARIABLE_NAME_FOR_A_DATABASE_PASSWORD_OF_THE_APP", valueFrom: { envFile: "app.env", key: "TOKEN" } }] } }, target: SWARM, files: { "app.env": "TOKEN=x\n" } }, "dev/web");
    expect(secretName(long, "A_VERY_LONG_VARIABLE_NAME_FOR_A_DATABASE_PASSWORD_OF_THE_APP").length).toBeLessThanOrEqual(64);
    // An entrypoint in the manifest drops the image's command, as docker run does.
    const entry = await shopService({ services: { web: { image: "web:1", entrypoint: ["/run.sh"] } }, target: SWARM }, "dev/web");
    expect(processOf(entry, { entrypoint: ["/docker-entrypoint.sh"], cmd: ["nginx"] })).toEqual(["/run.sh"]);
  });

  it("removes the Swarm service of a Service no longer declared", () => {
    const gone = decideSwarmService(undefined, { now: NOW, service: running(swarmServiceSpec(WEB1)), tasks: [] }, {});
    expect(gone.actions).toEqual([{ type: "remove", id: "svc1", name: "shop-dev-web", reason: "service no longer declared" }]);
  });
});

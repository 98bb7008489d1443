import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import type { EnvironmentPhase } from "../environment/machine.ts";
import { projectMachine, type ProjectPhase } from "./machine.ts";

const NAME = "shop";

function start() {
  return createActor(projectMachine, { input: { name: NAME } }).start();
}

/** Environments dev, staging, prod, ... in the given phases. */
function envs(...phases: EnvironmentPhase[]): Record<string, EnvironmentPhase> {
  const names = ["dev", "staging", "prod", "preview"];
  return Object.fromEntries(phases.map((phase, i) => [names[i] ?? `env${i}`, phase]));
}

describe("projectMachine", () => {
  it("starts Progressing with no environments", () => {
    const snapshot = start().getSnapshot();
    expect(snapshot.value).toBe("progressing");
    expect(snapshot.context).toEqual({ name: NAME, phase: "Progressing", environments: {} });
  });

  it.each([
    { name: "one Healthy", environments: envs("Healthy"), phase: "Ready" },
    { name: "all Healthy", environments: envs("Healthy", "Healthy", "Healthy"), phase: "Ready" },
    { name: "Healthy and Stopped", environments: envs("Healthy", "Stopped"), phase: "Ready" },
    { name: "one Degraded among Healthy", environments: envs("Healthy", "Degraded", "Healthy"), phase: "Degraded" },
    { name: "one Failed among Healthy", environments: envs("Healthy", "Failed"), phase: "Degraded" },
    { name: "Degraded and Stopped", environments: envs("Stopped", "Degraded"), phase: "Degraded" },
    { name: "Failed and Provisioning", environments: envs("Provisioning", "Failed"), phase: "Degraded" },
    { name: "one Stopped", environments: envs("Stopped"), phase: "Stopped" },
    { name: "all Stopped", environments: envs("Stopped", "Stopped", "Stopped"), phase: "Stopped" },
    { name: "one Provisioning among Healthy", environments: envs("Healthy", "Provisioning"), phase: "Progressing" },
    { name: "all Provisioning", environments: envs("Provisioning", "Provisioning"), phase: "Progressing" },
    { name: "Provisioning and Stopped", environments: envs("Stopped", "Provisioning"), phase: "Progressing" },
    { name: "no environments", environments: envs(), phase: "Progressing" },
  ] satisfies { name: string; environments: Record<string, EnvironmentPhase>; phase: ProjectPhase }[])("$name -> $phase", ({ environments, phase }) => {
    const actor = start();
    actor.send({ type: "ENVIRONMENTS", environments });
    const snapshot = actor.getSnapshot();
    expect(snapshot.context).toEqual({ name: NAME, phase, environments });
    expect(snapshot.value).toBe(phase.toLowerCase());
  });

  const into: Record<ProjectPhase, Record<string, EnvironmentPhase>> = {
    Progressing: envs("Provisioning"),
    Ready: envs("Healthy"),
    Degraded: envs("Degraded"),
    Stopped: envs("Stopped"),
  };
  const cases = Object.keys(into).flatMap((from) => Object.keys(into).map((to) => [from, to] as [ProjectPhase, ProjectPhase]));

  it.each(cases)("%s -> %s", (from, to) => {
    const actor = start();
    actor.send({ type: "ENVIRONMENTS", environments: into[from] });
    expect(actor.getSnapshot().context.phase).toBe(from);
    actor.send({ type: "ENVIRONMENTS", environments: into[to] });
    expect(actor.getSnapshot().context.phase).toBe(to);
    expect(actor.getSnapshot().context.environments).toEqual(into[to]);
  });

  it("an empty update after Ready goes back to Progressing and forgets the environments", () => {
    const actor = start();
    actor.send({ type: "ENVIRONMENTS", environments: envs("Healthy", "Healthy") });
    expect(actor.getSnapshot().context.phase).toBe("Ready");
    actor.send({ type: "ENVIRONMENTS", environments: {} });
    expect(actor.getSnapshot().context).toEqual({ name: NAME, phase: "Progressing", environments: {} });
  });
});

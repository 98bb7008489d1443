import { describe, expect, it } from "vitest";
import type { EnvironmentPhase } from "../environment/phase.ts";
import { projectPhase, type ProjectPhase } from "./phase.ts";

describe("projectPhase", () => {
  it.each([
    { name: "one Healthy", environments: ["Healthy"], phase: "Ready" },
    { name: "all Healthy", environments: ["Healthy", "Healthy", "Healthy"], phase: "Ready" },
    { name: "Healthy and Stopped", environments: ["Healthy", "Stopped"], phase: "Ready" },
    { name: "one Degraded among Healthy", environments: ["Healthy", "Degraded", "Healthy"], phase: "Degraded" },
    { name: "one Failed among Healthy", environments: ["Healthy", "Failed"], phase: "Degraded" },
    { name: "Degraded and Stopped", environments: ["Stopped", "Degraded"], phase: "Degraded" },
    { name: "Failed and Provisioning", environments: ["Provisioning", "Failed"], phase: "Degraded" },
    { name: "one Failed alone", environments: ["Failed"], phase: "Degraded" },
    { name: "one Stopped", environments: ["Stopped"], phase: "Stopped" },
    { name: "all Stopped", environments: ["Stopped", "Stopped", "Stopped"], phase: "Stopped" },
    { name: "one Provisioning among Healthy", environments: ["Healthy", "Provisioning"], phase: "Progressing" },
    { name: "all Provisioning", environments: ["Provisioning", "Provisioning"], phase: "Progressing" },
    { name: "Provisioning and Stopped", environments: ["Stopped", "Provisioning"], phase: "Progressing" },
    { name: "no environments", environments: [], phase: "Progressing" },
  ] satisfies { name: string; environments: EnvironmentPhase[]; phase: ProjectPhase }[])("$name -> $phase", ({ environments, phase }) => {
    expect(projectPhase(environments)).toBe(phase);
  });

  it.each([
    { environments: ["Healthy", "Stopped", "Stopped"], phase: "Ready" },
    { environments: ["Stopped", "Provisioning", "Stopped"], phase: "Progressing" },
    { environments: ["Healthy", "Provisioning", "Stopped", "Failed"], phase: "Degraded" },
  ] satisfies { environments: EnvironmentPhase[]; phase: ProjectPhase }[])("$environments in any order -> $phase", ({ environments, phase }) => {
    const rotations = environments.map((_, i) => [...environments.slice(i), ...environments.slice(0, i)]);
    for (const order of [...rotations, [...environments].reverse()]) expect(projectPhase(order), order.join(", ")).toBe(phase);
  });
});

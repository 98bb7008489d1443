import { describe, expect, it } from "vitest";
import type { ServicePhase } from "../service/phase.ts";
import { environmentPhase, type EnvironmentFacts, type EnvironmentPhase } from "./phase.ts";

/** Facts for an environment whose services are in the given phases (web, api, db, ...). */
function facts(suspended: boolean, ...phases: ServicePhase[]): EnvironmentFacts {
  const names = ["web", "api", "db", "worker"];
  return { suspended, services: phases.map((phase, i) => ({ service: names[i] ?? `svc${i}`, phase })) };
}
const live = (...phases: ServicePhase[]) => facts(false, ...phases);
const suspended = (...phases: ServicePhase[]) => facts(true, ...phases);

/** One pass: what it found, or `failed` when the environment's own objects could not be made. */
type Pass = EnvironmentFacts | "failed";

/** Plays passes in order, carrying everHealthy from one to the next as the reconciler's memo does; returns each phase. */
function phasesAfter(...passes: Pass[]): EnvironmentPhase[] {
  let everHealthy = false;
  let last = live();
  return passes.map((pass) => {
    // A failed pass still has the facts of the last good one.
    if (pass !== "failed") last = pass;
    const result = environmentPhase(last, pass === "failed", everHealthy);
    everHealthy = result.everHealthy;
    return result.phase;
  });
}

describe("environmentPhase: one pass, never healthy before", () => {
  it.each([
    { name: "suspended, every service Stopped", facts: suspended("Stopped", "Stopped"), phase: "Stopped" },
    { name: "suspended, no services", facts: suspended(), phase: "Stopped" },
    { name: "not suspended, every service Running", facts: live("Running", "Running", "Running"), phase: "Healthy" },
    { name: "not suspended, one service scaled to zero (Stopped), others Running", facts: live("Running", "Stopped", "Running"), phase: "Healthy" },
    { name: "not suspended, every service scaled to zero (Stopped)", facts: live("Stopped", "Stopped"), phase: "Healthy" },
    { name: "not suspended, no services", facts: live(), phase: "Healthy" },
    { name: "one service Failed among Running", facts: live("Running", "Failed"), phase: "Degraded" },
    { name: "one service Failed among Starting", facts: live("Starting", "Failed"), phase: "Degraded" },
    { name: "suspended, one service Failed", facts: suspended("Stopped", "Failed"), phase: "Provisioning" },
    { name: "suspended, a service still Stopping", facts: suspended("Stopped", "Stopping"), phase: "Provisioning" },
    { name: "suspended, every service still Running", facts: suspended("Running", "Running"), phase: "Provisioning" },
    { name: "a service Stopped among Starting", facts: live("Stopped", "Starting"), phase: "Provisioning" },
    { name: "a service still Starting", facts: live("Running", "Starting"), phase: "Provisioning" },
    { name: "a service still Configured", facts: live("Configured", "Running"), phase: "Provisioning" },
    { name: "a service Updating", facts: live("Running", "Updating"), phase: "Provisioning" },
    { name: "a service Stopping while not suspended", facts: live("Running", "Stopping"), phase: "Provisioning" },
  ] satisfies { name: string; facts: EnvironmentFacts; phase: EnvironmentPhase }[])("$name -> $phase", ({ facts: found, phase }) => {
    expect(environmentPhase(found, false, false)).toEqual({ phase, everHealthy: phase === "Healthy" });
  });
});

describe("environmentPhase: what it remembers", () => {
  it.each([
    { name: "Healthy sets it", facts: live("Running"), failed: false, before: false, want: { phase: "Healthy", everHealthy: true } },
    { name: "Healthy keeps it", facts: live("Running"), failed: false, before: true, want: { phase: "Healthy", everHealthy: true } },
    { name: "once healthy, a service Starting -> Degraded, kept", facts: live("Running", "Starting"), failed: false, before: true, want: { phase: "Degraded", everHealthy: true } },
    { name: "once healthy, a service Configured -> Degraded, kept", facts: live("Running", "Configured"), failed: false, before: true, want: { phase: "Degraded", everHealthy: true } },
    { name: "once healthy, a service Updating -> still Healthy (a rollout does not degrade it)", facts: live("Running", "Updating"), failed: false, before: true, want: { phase: "Healthy", everHealthy: true } },
    { name: "once healthy, a service Updating and another Starting -> Degraded", facts: live("Starting", "Updating"), failed: false, before: true, want: { phase: "Degraded", everHealthy: true } },
    { name: "once healthy, a service Failed -> Degraded, kept", facts: live("Failed"), failed: false, before: true, want: { phase: "Degraded", everHealthy: true } },
    { name: "never healthy, a service Failed -> Degraded, still never healthy", facts: live("Failed"), failed: false, before: false, want: { phase: "Degraded", everHealthy: false } },
    { name: "Stopped forgets it", facts: suspended("Stopped"), failed: false, before: true, want: { phase: "Stopped", everHealthy: false } },
    { name: "suspended, still stopping: Provisioning, kept", facts: suspended("Stopping"), failed: false, before: true, want: { phase: "Provisioning", everHealthy: true } },
    { name: "failed: Failed, kept when it was healthy", facts: live("Running"), failed: true, before: true, want: { phase: "Failed", everHealthy: true } },
    { name: "failed: Failed, never healthy stays so", facts: live("Running"), failed: true, before: false, want: { phase: "Failed", everHealthy: false } },
    { name: "failed wins over a suspension that stopped everything", facts: suspended("Stopped"), failed: true, before: true, want: { phase: "Failed", everHealthy: true } },
    { name: "failed wins over a Failed service", facts: live("Failed"), failed: true, before: false, want: { phase: "Failed", everHealthy: false } },
  ] satisfies { name: string; facts: EnvironmentFacts; failed: boolean; before: boolean; want: { phase: EnvironmentPhase; everHealthy: boolean } }[])("$name", ({ facts: found, failed, before, want }) => {
    expect(environmentPhase(found, failed, before)).toEqual(want);
  });
});

describe("environmentPhase: pass after pass", () => {
  it.each([
    { name: "Healthy -> Degraded when a service is Starting again", passes: [live("Running", "Running"), live("Running", "Starting")], want: ["Healthy", "Degraded"] },
    { name: "Healthy -> Degraded when a service is back to Configured", passes: [live("Running", "Running"), live("Running", "Configured")], want: ["Healthy", "Degraded"] },
    { name: "stays Degraded while a service is still Starting", passes: [live("Running"), live("Starting"), live("Starting")], want: ["Healthy", "Degraded", "Degraded"] },
    { name: "recovers to Healthy once everything runs again", passes: [live("Running"), live("Failed"), live("Running")], want: ["Healthy", "Degraded", "Healthy"] },
    { name: "never healthy: Degraded by a failure, then Starting -> Provisioning", passes: [live("Failed"), live("Starting")], want: ["Degraded", "Provisioning"] },
    { name: "once healthy: Degraded by a failure, then Starting -> still Degraded", passes: [live("Running"), live("Failed"), live("Starting")], want: ["Healthy", "Degraded", "Degraded"] },
    { name: "Healthy -> Failed -> a service Starting -> Degraded", passes: [live("Running", "Running"), "failed", live("Running", "Starting")], want: ["Healthy", "Failed", "Degraded"] },
    { name: "never healthy: Failed -> a service Starting -> Provisioning", passes: ["failed", live("Running", "Starting")], want: ["Failed", "Provisioning"] },
    { name: "Failed, then everything runs -> Healthy", passes: ["failed", live("Running")], want: ["Failed", "Healthy"] },
    { name: "Healthy with a service scaled to zero stays Healthy", passes: [live("Running", "Running"), live("Running", "Stopped")], want: ["Healthy", "Healthy"] },
    { name: "suspending a Healthy environment: Provisioning while services stop, then Stopped", passes: [live("Running", "Running"), suspended("Stopping", "Running"), suspended("Stopped", "Stopping"), suspended("Stopped", "Stopped")], want: ["Healthy", "Provisioning", "Provisioning", "Stopped"] },
    { name: "suspending a Healthy environment with a Failed service: Provisioning, then Stopped", passes: [live("Running", "Running"), suspended("Stopping", "Failed"), suspended("Stopped", "Stopped")], want: ["Healthy", "Provisioning", "Stopped"] },
    { name: "Provisioning -> Healthy once everything runs", passes: [live("Starting", "Running"), live("Running", "Running")], want: ["Provisioning", "Healthy"] },
    // Stopped forgets the earlier health: coming back from a suspension is provisioning again.
    { name: "suspend and resume after Healthy: Healthy -> Stopped -> Provisioning -> Healthy", passes: [live("Running"), suspended("Stopped"), live("Starting"), live("Running")], want: ["Healthy", "Stopped", "Provisioning", "Healthy"] },
    { name: "suspend and resume, never Healthy: Provisioning -> Stopped -> Provisioning -> Healthy", passes: [live("Starting"), suspended("Stopped"), live("Starting"), live("Running")], want: ["Provisioning", "Stopped", "Provisioning", "Healthy"] },
    { name: "remembers Healthy through Degraded and Failed until Stopped", passes: [live("Starting"), live("Running"), live("Failed"), "failed", suspended("Stopped"), live("Starting")], want: ["Provisioning", "Healthy", "Degraded", "Failed", "Stopped", "Provisioning"] },
  ] satisfies { name: string; passes: Pass[]; want: EnvironmentPhase[] }[])("$name", ({ passes, want }) => {
    expect(phasesAfter(...passes)).toEqual(want);
  });
});

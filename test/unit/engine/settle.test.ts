import { describe, expect, it } from "vitest";
import type { ResourceStatus } from "../../../src/engine/controller.ts";
import { settleState } from "../../../src/engine/settle.ts";

const status = (kind: string, name: string, over: Partial<ResourceStatus> = {}): ResourceStatus => ({ kind, name, phase: "Starting", message: "", ready: false, converged: false, ...over });
const ok = (kind: string, name: string) => status(kind, name, { phase: "Running", ready: true, converged: true });
const target = (phase: string) => status("DeploymentTarget", "local", { phase, ready: phase === "Active", converged: true });

describe("settleState", () => {
  const deps: Record<string, string[]> = { "Service/dev/web": ["Service/dev/api"], "Service/dev/api": ["Service/dev/db"] };
  it.each([
    { name: "all converged and ready", statuses: [target("Active"), ok("Environment", "dev"), ok("Service", "dev/web")], failures: {}, pending: [], failed: [] },
    { name: "a service still starting is pending", statuses: [target("Active"), ok("Environment", "dev"), status("Service", "dev/web")], failures: {}, pending: ["Service/dev/web"], failed: [] },
    { name: "a terminal service fails, and its environment no longer waits for it", statuses: [target("Active"), status("Environment", "dev"), status("Service", "dev/web", { terminal: true, error: "image missing" })], failures: {}, pending: [], failed: ["Service/dev/web"] },
    { name: "a key whose last failure was terminal fails though its status moved on", statuses: [target("Active"), ok("Environment", "dev"), status("Service", "dev/web", { phase: "Updating" })], failures: { "Service/dev/web": "rolled back" }, pending: [], failed: ["Service/dev/web"] },
    { name: "a stuck environment holds its services", statuses: [target("Active"), status("Environment", "dev", { terminal: true, error: "network owned elsewhere" }), status("Service", "dev/web")], failures: {}, pending: [], failed: ["Environment/dev"] },
    { name: "a dependent of a stuck dependency (two levels) does not wait", statuses: [target("Active"), status("Environment", "dev"), status("Service", "dev/db", { terminal: true, error: "x" }), status("Service", "dev/api"), status("Service", "dev/web")], failures: {}, pending: [], failed: ["Service/dev/db"] },
    { name: "an unreachable target fails its keys", statuses: [target("Unreachable"), status("Environment", "dev"), status("Service", "dev/web")], failures: {}, pending: [], failed: ["DeploymentTarget/local", "Environment/dev", "Service/dev/web"] },
  ])("$name", ({ statuses, failures, pending, failed }) => {
    const result = settleState({ statuses, failures: new Map(Object.entries(failures)), targetOf: () => "local", ready: true, dependenciesOf: (s) => deps[`${s.kind}/${s.name}`] ?? [] });
    expect(result.pending.map((s) => `${s.kind}/${s.name}`)).toEqual(pending);
    expect(result.failed.map((s) => `${s.kind}/${s.name}`)).toEqual(failed);
  });

  it("names the reason of a remembered failure", () => {
    const result = settleState({ statuses: [target("Active"), status("Service", "dev/web", { phase: "Updating" })], failures: new Map([["Service/dev/web", "rolled back: unhealthy"]]), targetOf: () => "local", ready: true });
    expect(result.failed[0]).toMatchObject({ error: "rolled back: unhealthy", message: "rolled back: unhealthy" });
  });
});

import { describe, expect, it } from "vitest";
import { ProgressReporter } from "../../../src/cli/progress.ts";
import type { ResourceStatus } from "../../../src/engine/controller.ts";

const status = (name: string, phase: string, message: string, ready = false, error?: string): ResourceStatus => ({ kind: "Service", name, phase, message, ready, converged: ready, ...(error ? { error } : {}) });

function reporter(mode: "plain" | "json" | "tty") {
  let clock = 0;
  const out: string[] = [];
  const r = new ProgressReporter(mode, (t) => out.push(t), () => clock);
  return { r, out, tick: (ms: number) => (clock += ms) };
}

describe("apply progress", () => {
  it("plain: one line per change, with the time since apply began; nothing for a status that did not change", () => {
    const { r, out, tick } = reporter("plain");
    r.update([status("dev/db", "Starting", "waiting for the environment's network and volumes"), status("dev/web", "Configured", "waiting for db")]);
    tick(1_500);
    r.update([status("dev/db", "Starting", "waiting for the environment's network and volumes"), status("dev/web", "Configured", "waiting for db")]);
    tick(2_000);
    r.update([status("dev/db", "Running", "1/1 running, 1 ready", true), status("dev/web", "Updating", "rollout of revision 0123456789ab: deploying, waiting for slot(s) 0")]);
    expect(out.join("")).toBe(
      [
        "  0.0s Service/dev/db: Starting: waiting for the environment's network and volumes",
        "  0.0s Service/dev/web: Configured: waiting for db",
        "  3.5s Service/dev/db: Running: 1/1 running, 1 ready",
        "  3.5s Service/dev/web: Updating: rollout of revision 0123456789ab: deploying, waiting for slot(s) 0",
        "",
      ].join("\n"),
    );
  });

  it("json: the same changes as JSON lines; an error is the message", () => {
    const { r, out, tick } = reporter("json");
    tick(250);
    r.update([status("dev/web", "Failed", "", false, "rollout of revision 0123 rolled back: container web-0 is unhealthy")]);
    expect(out.map((l) => JSON.parse(l))).toEqual([{ elapsedMs: 250, kind: "Service", name: "dev/web", phase: "Failed", ready: false, message: "rollout of revision 0123 rolled back: container web-0 is unhealthy" }]);
  });

  it("tty: every resource on its own line, redrawn in place; a ready one is ticked with the time it took", () => {
    const { r, out, tick } = reporter("tty");
    r.update([status("dev/db", "Starting", "0/1 running"), status("dev/web", "Configured", "waiting for db")]);
    tick(2_000);
    r.update([status("dev/db", "Running", "1/1 running, 1 ready", true), status("dev/web", "Configured", "waiting for db")]);
    tick(1_000);
    r.update([status("dev/db", "Running", "1/1 running, 1 ready", true), status("dev/web", "Configured", "waiting for db")]);
    expect(out[0]).not.toContain("\x1b[2A");
    // Each later frame goes back up the two lines it drew.
    expect(out[1]!.startsWith("\x1b[2A")).toBe(true);
    const last = out[2]!.split("\n").filter(Boolean);
    expect(last[0]).toContain("✓");
    expect(last[0]).toContain("Service/dev/db Running: 1/1 running, 1 ready (2.0s)");
    // Still waiting: counted from when it entered its phase, and still moving.
    expect(last[1]).toContain("Service/dev/web Configured: waiting for db (3.0s)");
  });
});

import { describe, expect, it } from "vitest";
import { describeFailures } from "../../../src/cli/commands/apply.ts";
import type { Manager } from "../../../src/engine/manager.ts";
import { MASK, Redactor } from "../../../src/log/logger.ts";

// apply's failure report shows each failed service's last log lines, indented. A secret the
// container printed over several lines (a PEM key) must be masked before the lines are
// indented: once indented it no longer matches, and would be shown whole.

const PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";

function managerPrinting(logs: string): Manager {
  return { lastLogs: async () => ({ container: "shop-dev-web-0-abc", state: "exited", exitCode: 1, logs }) } as unknown as Manager;
}

describe("apply's failure report", () => {
  it("masks a multi-line secret in a container's last logs before indenting them", async () => {
    const redactor = new Redactor();
    redactor.setSecrets([PEM, "x9q"]);
    const pending = [{ kind: "Service", name: "dev/web", phase: "Failed", message: "", ready: false, converged: false, error: "exited" }];
    // As `berth apply` prints it: the report, masked once more as a whole.
    const text = redactor.redact(await describeFailures(managerPrinting(`starting\nloaded key ${PEM}\nPIN=x9q\nbye\n`), pending, redactor));
    expect(text).not.toContain("BEGIN PRIVATE KEY");
    expect(text).not.toContain("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
    expect(text).not.toContain("x9q");
    expect(text).toContain(`      loaded key ${MASK}\n      PIN=${MASK}\n      bye\n`);
  });
});

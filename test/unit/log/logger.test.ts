import { describe, expect, it } from "vitest";
import { createLogger, Redactor } from "../../../src/log/logger.ts";

function capture(format: "text" | "json", secrets: string[]) {
  const lines: string[] = [];
  const redactor = new Redactor();
  redactor.setSecrets(secrets);
  const log = createLogger({ format, write: (l) => lines.push(l), redactor, now: () => new Date(0) });
  return { log, lines };
}

describe("logger", () => {
  it("writes a fixed message plus fields as text", () => {
    const { log, lines } = capture("text", []);
    log.info("container created", { target: "local", container: "shop-dev-web-0-abc", reason: "missing replica" });
    expect(lines).toEqual(['1970-01-01T00:00:00.000Z info  container created target=local container=shop-dev-web-0-abc reason="missing replica"']);
  });

  it.each(["text", "json"] as const)("masks secrets in the message and every field, even ones that need escaping (%s)", (format) => {
    const pem = '-----BEGIN KEY-----\nab"c\\d\n-----END KEY-----';
    const { log, lines } = capture(format, ["hunter2-password", pem]);
    log.warn("probe failed hunter2-password", { output: `body: ${pem}`, error: new Error("auth hunter2-password refused"), nested: { token: "hunter2-password" } });
    const line = lines[0]!;
    expect(line).not.toContain("hunter2");
    expect(line).not.toContain("BEGIN KEY");
    expect(line.match(/\*\*\*/g)).toHaveLength(4);
  });

  it.each(["text", "json"] as const)("masks a secret under 6 characters where it is a whole value, not inside words (%s)", (format) => {
    const { log, lines } = capture(format, ["test"]);
    log.info("latest tests passed", { password: "test", env: ["DB_PASSWORD=test"], note: "contest" });
    const line = lines[0]!;
    expect(line).toContain("latest tests passed");
    expect(line).toContain("contest");
    expect(line.match(/\*\*\*/g)).toHaveLength(2);
  });

  it("drops lines below its level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (l) => lines.push(l) });
    log.info("quiet");
    log.error("loud");
    expect(lines).toHaveLength(1);
  });
});

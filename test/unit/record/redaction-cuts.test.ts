import { afterEach, describe, expect, it } from "vitest";
import { Redactor, silentLogger } from "../../../src/log/logger.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Recorder } from "../../../src/record/recorder.ts";
import { openStore, type Store } from "../../../src/store/index.ts";

// A secret crossing the place where a recorded text is cut must not be stored in part:
// every text is masked first, then cut.

const SECRET = "S3cr3t-Token-0123456789";

let store: Store | undefined;

afterEach(() => {
  store?.close();
  store = undefined;
});

async function recorder(): Promise<Recorder> {
  store = await openStore("file::memory:");
  const redactor = new Redactor();
  redactor.setSecrets([SECRET]);
  return new Recorder({ store, metrics: new Metrics({ processMetrics: false }), redactor, log: silentLogger });
}

/** Every piece of the secret at least 3 characters long that a cut through it would leave. */
function parts(secret: string): string[] {
  const out: string[] = [];
  for (let n = 3; n < secret.length; n++) out.push(secret.slice(0, n), secret.slice(secret.length - n));
  return out;
}

function expectNoPart(text: string | null | undefined): void {
  for (const part of parts(SECRET)) expect(text ?? "").not.toContain(part);
}

describe("Recorder masks before it cuts", () => {
  // The event message is "container <12>: " + output; the row's error is cut at 200, its output at 500.
  it.each([
    ["the health row's error (200)", 200 - 5],
    ["the health row's output (500)", 500 - 5],
    ["the health event's message (200 of the output)", 200 - 10],
  ])("masks a secret crossing %s", async (_, at) => {
    const r = await recorder();
    const output = `${"x".repeat(at)}${SECRET} tail`;
    r.healthProbed("Service/dev/web", "c".repeat(64), "unhealthy", { ok: false, output, responseMs: 3 }, true);
    await r.flush();
    await new Promise((resolve) => setTimeout(resolve, 0));
    await r.flush();
    const [row] = await store!.health.list();
    expect(row).toBeDefined();
    expectNoPart(row!.output);
    expectNoPart(row!.error);
    expect((row!.output ?? "").length).toBeLessThanOrEqual(500);
    expect((row!.error ?? "").length).toBeLessThanOrEqual(200);
    const events = await store!.events.list();
    expect(events).toHaveLength(1);
    expectNoPart(events[0]!.message);
  });
});

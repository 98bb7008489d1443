import { afterEach, describe, expect, it } from "vitest";
import type { RolloutApi } from "../../../controllers/service/requests.ts";
import type { Manager } from "../../../src/engine/manager.ts";
import { startHttpServer } from "../../../src/http/server.ts";
import { MASK, silentLogger } from "../../../src/log/logger.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { maskedSpec } from "../../../src/record/masked-spec.ts";
import { openStore, type Store } from "../../../src/store/index.ts";

let store: Store | undefined;
let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
  store?.close();
  store = undefined;
});

const manager = { desired: { services: new Map() }, targetStatus: () => [], refreshMetrics: () => {} } as unknown as Manager;
const unused = () => Promise.reject(new Error("not called"));
const rollouts: RolloutApi = { status: unused, rollback: unused, retry: unused };

/** A Service's env as the manifest loader normalizes it: `secret` defaults to false, also for valueFrom entries. */
const env = [
  { name: "LOG_LEVEL", value: "debug", secret: false },
  { name: "API_KEY", value: "literal-secret-value", secret: true },
  { name: "DB_PASSWORD", valueFrom: { envFile: "../secrets/shop.env", key: "DB_PASSWORD" }, secret: false },
  { name: "SMTP_PASSWORD", valueFrom: { daemonEnv: "SMTP_PASSWORD" }, secret: false },
];

interface EnvView {
  name: string;
  value?: string;
  secret: boolean;
}

describe("env entries in the API's resources", () => {
  it("show values read from an env file or the daemon's environment as secret, also for rows stored before this was fixed", async () => {
    store = await openStore("file::memory:");
    // Stored as an older recorder stored it: valueFrom entries with secret: false.
    await store.resources.declare({ key: "Service/dev/web", kind: "Service", name: "dev/web", spec: { project: "shop", image: "web:1", env }, specHash: "h1" });
    await store.resources.declare({ key: "Environment/shop/dev", kind: "Environment", name: "dev", spec: { project: "shop", target: "local", overrides: { web: { env } } }, specHash: "h2" });
    http = await startHttpServer({ listen: "127.0.0.1:0", metrics: new Metrics({ processMetrics: false }), store, log: silentLogger, daemon: () => ({ manager, rollouts, manifests: () => ({ ok: true, broken: [] }) }) });

    const response = await fetch(`http://${http.address}/api/v1/resources`);
    expect(response.status).toBe(200);
    const { items } = (await response.json()) as { items: { key: string; spec: { env?: EnvView[]; overrides?: { web: { env: EnvView[] } } } }[] };
    const service = items.find((i) => i.key === "Service/dev/web")!.spec.env!;
    const override = items.find((i) => i.key === "Environment/shop/dev")!.spec.overrides!.web.env;
    for (const list of [service, override]) {
      expect(list.map((v) => [v.name, v.secret])).toEqual([
        ["LOG_LEVEL", false],
        ["API_KEY", true],
        ["DB_PASSWORD", true],
        ["SMTP_PASSWORD", true],
      ]);
      expect(list.find((v) => v.name === "API_KEY")!.value).toBe(MASK);
      expect(list.find((v) => v.name === "LOG_LEVEL")!.value).toBe("debug");
    }
    expect(JSON.stringify(items)).not.toContain("literal-secret-value");
  });
});

describe("maskedSpec", () => {
  it("marks valueFrom entries secret and masks literal secret values, leaving the input untouched", () => {
    const spec = { env };
    expect(maskedSpec(spec)).toEqual({
      env: [
        { name: "LOG_LEVEL", value: "debug", secret: false },
        { name: "API_KEY", value: MASK, secret: true },
        { name: "DB_PASSWORD", valueFrom: { envFile: "../secrets/shop.env", key: "DB_PASSWORD" }, secret: true },
        { name: "SMTP_PASSWORD", valueFrom: { daemonEnv: "SMTP_PASSWORD" }, secret: true },
      ],
    });
    expect(spec.env[2]!.secret).toBe(false);
  });
});

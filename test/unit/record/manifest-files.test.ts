import { afterEach, describe, expect, it } from "vitest";
import { buildDesiredModel } from "../../../src/desired/model.ts";
import { Redactor, silentLogger } from "../../../src/log/logger.ts";
import { ManifestLoader } from "../../../src/manifests/load.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Recorder } from "../../../src/record/recorder.ts";
import { openStore, type Store } from "../../../src/store/index.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

let current: ManifestDir | undefined;
let store: Store | undefined;
afterEach(() => {
  store?.close();
  current?.cleanup();
});

const services = (web: string) => [doc("Service", "api", "project: shop\nimage: api:1"), doc("Service", "web", `project: shop\nimage: web:1${web}`)].join("---\n");

describe("Recorder: manifest_files", () => {
  it("records each broken file with its errors and the resources it holds at last good, and clears them once fixed", async () => {
    current = createManifestDir({ ...baseProject(), "web.yaml": services("") });
    store = await openStore("file::memory:");
    const recorder = new Recorder({ store, metrics: new Metrics({ processMetrics: false }), redactor: new Redactor(), log: silentLogger });
    const loader = new ManifestLoader(current.dir);
    const record = async () => {
      const state = await loader.load();
      recorder.desiredChanged(state, buildDesiredModel(state));
      await recorder.flush();
      return (await store!.manifests.list()).map((r) => ({ ...r, file: r.file.slice(current!.dir.length + 1) }));
    };

    expect(await record()).toEqual([
      expect.objectContaining({ file: "base.yaml", state: "valid", errors: [], resources: [] }),
      expect.objectContaining({ file: "web.yaml", state: "valid", errors: [], resources: [] }),
    ]);

    current.write("web.yaml", services("\nreplicas: lots"));
    current.write("new.yaml", doc("Service", "cart", "project: shop"));
    const broken = await record();
    expect(broken.map((r) => [r.file, r.state])).toEqual([["base.yaml", "valid"], ["new.yaml", "invalid"], ["web.yaml", "stale"]]);
    const web = broken.find((r) => r.file === "web.yaml")!;
    expect(web.errors).toEqual([{ line: 16, col: 13, message: expect.stringMatching(/^Service\/web: .*replicas/) }]);
    expect(web.resources).toEqual(["Service/api", "Service/web"]);
    expect(broken.find((r) => r.file === "new.yaml")).toMatchObject({ errors: [{ line: expect.any(Number), message: expect.stringContaining("Service/cart") }], resources: [] });

    current.write("web.yaml", services(""));
    current.remove("new.yaml");
    expect((await record()).map((r) => [r.file, r.state, r.errors.length])).toEqual([["base.yaml", "valid", 0], ["web.yaml", "valid", 0]]);
  });
});

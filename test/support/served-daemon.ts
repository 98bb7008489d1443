import { controllers, targets } from "../../controllers/index.ts";
import { rolloutApi } from "../../controllers/service/requests.ts";
import { driverForTarget } from "../../src/docker/transport.ts";
import { startDaemon, type Daemon } from "../../src/engine/daemon.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { createLogger, Redactor, type Logger } from "../../src/log/logger.ts";
import { manifestHealth } from "../../src/manifests/health.ts";
import { Metrics } from "../../src/metrics/metrics.ts";
import { Recorder } from "../../src/record/recorder.ts";
import { openStore, type Store } from "../../src/store/index.ts";

/** A daemon and its HTTP server in-process, as `berth run` assembles them, with every log line kept. */
export interface ServedDaemon {
  daemon: Daemon;
  store: Store;
  log: Logger;
  logs: string[];
  /** The body of a GET to the daemon's HTTP server. */
  get(path: string): Promise<string>;
  close(): Promise<void>;
}

export async function startServedDaemon(options: { dir: string; db: string; env: NodeJS.ProcessEnv; debounceMs?: number }): Promise<ServedDaemon> {
  const logs: string[] = [];
  const redactor = new Redactor();
  const log = createLogger({ level: "debug", write: (line) => logs.push(line), redactor });
  const store = await openStore(options.db);
  const metrics = new Metrics({ processMetrics: false });
  const { env } = options;
  const daemon = await startDaemon({ dir: options.dir, debounceMs: options.debounceMs, log, redactor, store, metrics, controllers, targets, daemonEnv: env, connect: (t) => driverForTarget(t, { env }), observer: new Recorder({ store, metrics, redactor, log }), resyncMs: 60_000 });
  const rollouts = rolloutApi({ model: () => daemon.manager.desired, store, keyStatus: (k) => daemon.manager.keyStatus(k), enqueue: (k) => daemon.manager.enqueue(k) });
  const http = await startHttpServer({ listen: "127.0.0.1:0", metrics, store, log, daemon: () => ({ manager: daemon.manager, rollouts, manifests: () => manifestHealth(daemon.watcher.current) }) });
  return {
    daemon,
    store,
    log,
    logs,
    get: async (path) => (await fetch(`http://${http.address}${path}`)).text(),
    async close() {
      await http.close();
      await daemon.stop();
      store.close();
    },
  };
}

import { driverForTarget } from "../docker/transport.ts";
import { LeadershipLostError } from "../leader/elector.ts";
import { controllers, targets } from "../../controllers/index.ts";
import { rolloutApi, type RolloutApi } from "../../controllers/service/requests.ts";
import type { Manager, ManagerOptions } from "../engine/manager.ts";
import { createLogger, Redactor, type Logger } from "../log/logger.ts";
import { loadManifests, type DesiredState } from "../manifests/load.ts";
import { deprecationNote } from "./deprecation.ts";
import { Metrics } from "../metrics/metrics.ts";
import { Recorder } from "../record/recorder.ts";
import { AgeKeyring, ageKeySource } from "../secrets/age-keys.ts";
import { Notifier } from "../notify/notifier.ts";
import { sourceNotifications } from "../notify/source-events.ts";
import { fanOutSource, type SourceObserver } from "../source/follower.ts";
import { fanOut } from "../engine/observer.ts";
import { openStore, type Store } from "../store/index.ts";
import type { LogOptions } from "./options.ts";
import type { CliIO } from "./context.ts";

/** Reads manifests for a command that acts on them; prints every problem and returns undefined when invalid. */
export async function loadValid(dir: string, io: CliIO, options?: Parameters<typeof loadManifests>[1]): Promise<DesiredState | undefined> {
  const state = await loadManifests(dir, options);
  const note = deprecationNote(dir, state);
  if (note) io.stderr(note);
  if (state.errors.length === 0) return state;
  for (const error of state.errors) io.stderr(`${error.message}\n`);
  io.stderr(`${dir}: ${state.errors.length} problem(s); nothing was changed\n`);
  return undefined;
}

/** Everything a converging command runs with: one redactor that every sink passes through. */
export interface Runtime {
  log: Logger;
  redactor: Redactor;
  store: Store;
  metrics: Metrics;
  recorder: Recorder;
  /** Webhook notifications: queued by every converging command, sent by the daemon (`notifier.start()`). */
  notifier: Notifier;
  /** Where the git source reports: the store, metrics and events, and notifications. */
  sourceObserver: SourceObserver;
  /** Manager options wired to real drivers, the recorder and metrics. */
  managerOptions: Pick<ManagerOptions, "log" | "redactor" | "connect" | "daemonEnv" | "hostPaths" | "ageKeys" | "observer" | "metrics" | "store" | "controllers" | "targets">;
  close(): Promise<void>;
}

/** Opens the store and builds logger, metrics and recorder for `apply` and `run`. */
export async function createRuntime(io: CliIO, options: LogOptions & { db: string; allowHostPath?: string[]; ageKeyFile?: string; mayAct?: () => boolean }): Promise<Runtime> {
  const redactor = new Redactor();
  const log = createLogger({ format: options.logFormat, level: options.logLevel, write: (line) => io.stderr(`${line}\n`), redactor });
  const store = await openStore(options.db);
  const metrics = new Metrics();
  const recorder = new Recorder({ store, metrics, redactor, log });
  const ageKeys = new AgeKeyring(ageKeySource(options.ageKeyFile, io.env));
  const notifier = new Notifier({ store, metrics, redactor, log, daemonEnv: io.env, hostPaths: { allow: options.allowHostPath ?? [] }, ageKeys });
  return {
    log,
    redactor,
    store,
    metrics,
    recorder,
    notifier,
    sourceObserver: fanOutSource(recorder.source, sourceNotifications(notifier)),
    managerOptions: {
      log,
      redactor,
      connect: (target) =>
        driverForTarget(target, {
          env: io.env,
          hooks: {
            onCall: recorder.onDockerCall,
            beforeCall: (call) => {
              // Under a lease, nothing changes Docker unless this daemon's leadership is confirmed right now.
              if (options.mayAct && !options.mayAct()) throw new LeadershipLostError(`${call.operation} on DeploymentTarget/${call.target} refused: this daemon's lease is not confirmed`);
              recorder.beforeDockerCall(call);
            },
          },
        }),
      daemonEnv: io.env,
      hostPaths: { allow: options.allowHostPath ?? [] },
      ageKeys,
      observer: fanOut(recorder, notifier),
      metrics,
      store,
      controllers,
      targets,
    },
    async close() {
      await notifier.stop();
      await recorder.flush();
      store.close();
    },
  };
}

/** The rollout API a running manager serves: requests are written to the store and picked up by the service's next pass. */
export function daemonRollouts(manager: Manager, store: Store): RolloutApi {
  return rolloutApi({ model: () => manager.desired, store, keyStatus: (key) => manager.keyStatus(key), enqueue: (key) => manager.enqueue(key) });
}

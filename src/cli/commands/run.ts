import { readFileSync, statSync } from "node:fs";
import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { ageKeyFileOption, allowHostPathOption, dbOption, logOptions, parseDurationFlag, positiveInt, type LogOptions } from "../options.ts";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Daemon } from "../../engine/daemon.ts";
import type { ActingDaemon, Following } from "../../http/server.ts";
import type { GitHook } from "../../http/webhooks.ts";
import type { Elector } from "../../leader/elector.ts";
import type { Logger } from "../../log/logger.ts";
import type { Recorder } from "../../record/recorder.ts";
import type { GitFollower } from "../../source/follower.ts";
import { parseAllowedHost } from "../../http/host-check.ts";
import { DEFAULT_LISTEN, isLoopbackHost, listenRefusal, parseListen } from "../../http/listen.ts";
import { DEFAULT_RETENTION } from "../../store/defaults.ts";
import type { Store } from "../../store/index.ts";
import type { SourceCondition } from "../../source/follower.ts";
import { publicUrl } from "../../source/git-command.ts";
import { gitOptions, gitSetup, type GitFlags } from "../git-options.ts";

interface RunOptions extends LogOptions, GitFlags {
  webhookSecretFile?: string;
  workers: number;
  resync: number;
  db: string;
  listen: string;
  healthRetention: number;
  eventRetention: number;
  apiTokenFile?: string;
  allowedHost?: string[];
  insecureListen?: boolean;
  allowHostPath?: string[];
  ageKeyFile?: string;
  leaseDuration: number;
  advertise?: string;
}

/** `berth run [DIR]`: the daemon. */
export const register: CommandModule["register"] = (program, io) => {
  const command = program
    .command("run")
    .description("run the daemon: watch the manifests, follow engine events, resync periodically, converge continuously")
    .argument("[dir]", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .addOption(new Option("--workers <n>", "reconciles running at once").default(4).argParser((v) => positiveInt(v, "--workers")))
    .addOption(new Option("--resync <duration>", "re-check everything this often, even without events").default(5 * 60_000, "5m").argParser(parseDurationFlag))
    .addOption(dbOption())
    .addOption(new Option("--listen <host:port>", "HTTP server for /metrics, /healthz, /readyz and /api/v1; a non-loopback address needs an API token or --insecure-listen").default(DEFAULT_LISTEN))
    .addOption(new Option("--api-token-file <path>", "file holding a bearer token that allows rollbacks and retries over the API (default $BERTH_API_TOKEN; without one the API is read-only)"))
    .addOption(new Option("--allowed-host <name>", "also answer requests whose Host header is this name (any port) or name:port; repeatable. Answered anyway: localhost, IP addresses, the --listen host").argParser(parseAllowedHost))
    .addOption(new Option("--insecure-listen", "listen on a non-loopback address without an API token (the read-only API and /metrics are open to whoever reaches it)"))
    .addOption(allowHostPathOption())
    .addOption(ageKeyFileOption())
    .addOption(new Option("--webhook-secret-file <path>", "file holding the secret push webhooks are signed with; enables POST /hooks/git (needs --git)"))
    .addOption(new Option("--advertise <host:port>", "the address followers send clients to while this daemon leads (default: the address --listen bound; give a reachable one when listening on 0.0.0.0)"))
    .addOption(new Option("--lease-duration <duration>", "daemons sharing one --db elect a leader with a lease this long (renewed every third of it); only the leader acts, a follower takes over once it expires").default(15_000, "15s").argParser(leaseDuration))
    .addOption(new Option("--health-retention <duration>", "keep health results this long").default(DEFAULT_RETENTION.healthMs, "3d").argParser(parseDurationFlag))
    .addOption(new Option("--event-retention <duration>", "keep events and the audit log this long").default(DEFAULT_RETENTION.eventsMs, "14d").argParser(parseDurationFlag))
    .addHelpText(
      "after",
      [
        "",
        "Reads (/api/v1, /metrics, /healthz, /readyz) need no token; rollbacks and",
        "retries need the API token. A request whose Host header names another site",
        "gets 421 (a guard against DNS rebinding): give the names clients use with",
        "--allowed-host. On a non-loopback --listen address (0.0.0.0, a LAN address)",
        "berth run starts only with an API token or --insecure-listen.",
        "",
        "Manifests may read env files and build contexts only inside DIR, and may not",
        "bind-mount /, /etc, /proc, /sys, /dev, /root, /boot or the Docker socket;",
        "--allow-host-path PREFIX (repeatable) lets them use more. A refused Service",
        "is not deployed; its error names the manifest and the flag.",
        "See docs/security.md.",
        "",
        "Several daemons may share one --db (the same file on one host, or a libSQL",
        "server): they elect a leader with a lease, and only the leader reconciles,",
        "runs backups and sends notifications. Followers serve /metrics (berth_leader",
        "0), /healthz, /readyz and the read API; rollbacks, retries and webhooks get",
        "503 naming the leader. A leader that cannot renew its lease exits. See docs/ha.md.",
        "",
        "Stops cleanly on SIGINT or SIGTERM: in-flight Docker calls finish, nothing is",
        "left half-made, and a leader hands its lease over at once.",
      ].join("\n"),
    );
  for (const option of [...gitOptions(), ...logOptions()]) command.addOption(option);
  command.action(async (dir: string, options: RunOptions) => {
    // Everything that can refuse the start is checked before the store is opened or anything runs.
    parseListen(options.listen);
    const git = gitSetup(options);
    if (options.webhookSecretFile && !git) throw new Error("--webhook-secret-file needs --git: the webhook fetches the followed repository");
    const webhookSecret = options.webhookSecretFile ? readSecretFile(options.webhookSecretFile, "webhook secret") : undefined;
    const apiToken = options.apiTokenFile ? readFileSync(options.apiTokenFile, "utf8").trim() : io.env.BERTH_API_TOKEN || undefined;
    if (apiToken !== undefined && apiToken.length < 16) throw new Error("the API token is shorter than 16 characters; expected a long random one, e.g. openssl rand -hex 32 > token");
    const refusal = await listenRefusal(options.listen, { token: apiToken !== undefined, insecure: options.insecureListen === true });
    if (refusal) throw new Error(refusal);
    // Loaded once the flags are checked: --help and version stay light.
    const [{ createRuntime, daemonRollouts }, { DaemonStoppedError, startDaemon }, { startHttpServer }, { manifestHealth }, { BackupScheduler }, { fanOut }, { Elector }, { DAEMON_LEASE }] = await Promise.all([
      import("../runtime.ts"),
      import("../../engine/daemon.ts"),
      import("../../http/server.ts"),
      import("../../manifests/health.ts"),
      import("../../backup/scheduler.ts"),
      import("../../engine/observer.ts"),
      import("../../leader/elector.ts"),
      import("../../store/lease-repository.ts"),
    ]);
    let elector: InstanceType<typeof Elector> | undefined;
    const runtime = await createRuntime(io, { ...options, mayAct: () => elector?.mayAct() ?? false });
    const { log } = runtime;
    if (apiToken) runtime.redactor.addOwnSecret(apiToken);
    if (webhookSecret) runtime.redactor.addOwnSecret(webhookSecret);
    const loose = options.apiTokenFile ? tokenFileWarning(options.apiTokenFile) : undefined;
    if (loose) log.warn(loose);
    if (options.insecureListen && !apiToken && !(await isLoopbackHost(parseListen(options.listen).host))) {
      log.warn("listening beyond loopback without an API token (--insecure-listen): whoever reaches the address can read the API and /metrics", { listen: options.listen });
    }
    if (git?.credential) runtime.redactor.addOwnSecret(git.credential);
    // Signals are heard from here on: a follower, or a daemon still waiting for its git source's first commit, stops cleanly too.
    const stopping = new AbortController();
    const stopped = new Promise<string>((resolve) => {
      const stop = (name: string) => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        stopping.abort();
        resolve(name);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    let daemon: Daemon | undefined;
    let acting: ActingDaemon | undefined;
    // Followers serve /metrics and what the store holds from the start; what needs the acting daemon says where the leader is.
    let http: Awaited<ReturnType<typeof startHttpServer>>;
    try {
      http = await startHttpServer({ listen: options.listen, metrics: runtime.metrics, store: runtime.store, log, apiToken, allowedHosts: options.allowedHost ?? [], daemon: () => acting, following: () => following(elector) });
    } catch (error) {
      await runtime.close();
      throw new Error(`cannot listen on ${options.listen}: ${error instanceof Error ? error.message : error}; expected a free host:port, e.g. --listen 127.0.0.1:9465`, { cause: error });
    }
    log.info("http listening", { address: http.address, api: apiToken ? "rollbacks allowed with the token" : "read-only", allowedHosts: options.allowedHost?.join(", ") });
    elector = new Elector({
      leases: runtime.store.leases,
      name: DAEMON_LEASE,
      holder: `${hostname()}/${process.pid}/${randomBytes(3).toString("hex")}`,
      address: options.advertise ?? http.address,
      durationMs: options.leaseDuration,
      log,
      onChange: (leadership, term) => {
        runtime.metrics.leader.set(leadership === "leader" ? 1 : 0);
        runtime.metrics.leaseTerm.set(leadership === "leader" ? (term ?? 0) : 0);
      },
    });
    const shutDown = async () => {
      await http.close();
      await runtime.close();
    };
    if (!(await elector.campaign(stopping.signal))) {
      await shutDown();
      return log.info("stopped", { reason: "stopped while following" });
    }
    // From here on, every write of a rollout step carries this daemon's term: once deposed, none lands.
    runtime.store.fenceWith(elector.fence());
    void elector.lost.then((error) => {
      // controller-runtime does the same: nothing this process started may go on acting beside the new leader.
      log.error("leadership lost; exiting", { error: error.message });
      process.exit(1);
    });
    // Volume backups run on their schedules in the leader only, on the targets its manager is connected to.
    const backups = new BackupScheduler({
      store: runtime.store,
      log,
      metrics: runtime.metrics,
      now: Date.now,
      redact: (text) => runtime.redactor.redact(text),
      driverFor: (target) => {
        if (!daemon) throw new Error("the daemon is still starting");
        return daemon.manager.driverFor(target);
      },
    });
    const observer = fanOut(runtime.managerOptions.observer!, { desiredChanged: (_state, model) => backups.sync(model) });
    try {
      const recorded = git && (await recordedConditions(runtime.store, git.mirror.spec.url, git.mirror.refName));
      daemon = await startDaemon({ ...runtime.managerOptions, observer, dir, workers: options.workers, resyncMs: options.resync, git: git && { ...git, observer: runtime.sourceObserver, recorded }, signal: stopping.signal });
    } catch (error) {
      await backups.stop();
      await elector.release();
      await shutDown();
      if (error instanceof DaemonStoppedError) return log.info("stopped", { reason: error.message });
      throw error;
    }
    const running = daemon;
    const source = running.source;
    acting = {
      manager: running.manager,
      rollouts: daemonRollouts(running.manager, runtime.store),
      manifests: () => manifestHealth(running.watcher.current),
      source: source && (() => source.current),
      gitHook: source && webhookSecret ? gitHook(webhookSecret, source, runtime.recorder, log) : undefined,
    };
    runtime.notifier.start();
    const retention = { ...DEFAULT_RETENTION, healthMs: options.healthRetention, eventsMs: options.eventRetention, auditMs: options.eventRetention };
    const retentionTimer = setInterval(() => {
      runtime.store.enforceRetention(retention).then(
        (removed) => removed && log.info("retention enforced", { removed }),
        (error: unknown) => log.warn("retention failed", { error }),
      );
    }, 60 * 60_000);
    retentionTimer.unref();

    const signal = await stopped;
    log.info("stopping", { signal });
    clearInterval(retentionTimer);
    await backups.stop();
    await running.stop();
    // Handed over only once nothing here acts any more.
    await elector.release();
    await shutDown();
  });
};

/** What a follower says of the leader, from the lease as it last read it. */
function following(elector: Elector | undefined): Following {
  if (elector?.leadership === "leader") return { detail: "this daemon leads (starting)", refusal: "this daemon leads and is still starting; try again shortly" };
  const leader = elector?.leader;
  if (!leader) return { detail: "electing a leader", refusal: "this daemon is not leading (a leader is being elected); try again shortly" };
  const at = leader.address ? ` at http://${leader.address}` : "";
  return {
    detail: `following ${leader.holder} (term ${leader.term})${at}`,
    refusal: `this daemon follows; only the leader acts: send the request to ${leader.holder}${at} (term ${leader.term})`,
  };
}

/**
 * POST /hooks/git: fetches the source at once. A flood of bad deliveries can
 * fill neither the log nor the store: each distinct cause is logged once and
 * audited at most once a minute.
 */
function gitHook(secret: string, source: GitFollower, recorder: Recorder, log: Logger): GitHook {
  const refusedHooks = new Map<string, number>();
  return {
    secret,
    ref: source.current.ref,
    trigger: (reason) => {
      recorder.audit({ operation: "webhook.accepted", object: "/hooks/git", reason, outcome: "success" });
      void source.trigger(reason);
    },
    refused: (why, from) => {
      const cause = `${from}|${why}`;
      const now = Date.now();
      const last = refusedHooks.get(cause);
      if (last === undefined || now - last >= 60_000) {
        if (refusedHooks.size >= 1000) refusedHooks.clear();
        refusedHooks.set(cause, now);
        recorder.audit({ operation: "webhook.refused", object: "/hooks/git", reason: `from ${from ?? "unknown"}`, outcome: "refused", error: why });
      }
      if (last === undefined) log.warn("webhook refused", { from, error: why });
    },
  };
}

/** --lease-duration: at least 3s, so that renewals (every third) stay a second or more apart. */
function leaseDuration(value: string): number {
  const ms = parseDurationFlag(value);
  if (ms < 3_000) throw new Error(`--lease-duration must be at least 3s (renewed every third of it), e.g. --lease-duration 15s; got ${value}`);
  return ms;
}

/** The source's conditions as the previous run left them, when it followed the same URL and ref; none if the store cannot say. */
async function recordedConditions(store: Store, url: string, ref: string): Promise<SourceCondition[] | undefined> {
  const row = await store.sources.get("git").catch(() => undefined);
  if (!row || row.url !== publicUrl(url) || row.ref !== ref) return undefined;
  return JSON.parse(row.conditions) as SourceCondition[];
}

/** A secret the operator keeps in a file: trimmed, and long enough to be worth signing with. */
function readSecretFile(path: string, what: string): string {
  const secret = readFileSync(path, "utf8").trim();
  if (secret.length < 16) throw new Error(`the ${what} in ${path} is shorter than 16 characters; expected a long random one, e.g. openssl rand -hex 32 > ${path}`);
  return secret;
}


/** A warning when others than the daemon's user can read the token file (Berth never writes it; the operator does). */
export function tokenFileWarning(path: string): string | undefined {
  if (process.platform === "win32") return undefined;
  const mode = statSync(path).mode & 0o777;
  if (!(mode & 0o077)) return undefined;
  return `the API token file ${path} can be read by other users (mode ${mode.toString(8).padStart(4, "0")}); expected only its owner, e.g. chmod 600 ${path}`;
}

import { basename, sep } from "node:path";
import { watch } from "chokidar";
import { isIgnoredPath, isManifestFileName } from "./files.ts";
import { ManifestLoader, type DesiredState } from "./load.ts";

export interface WatchOptions {
  /** Quiet time after the last file event before the directory is read again. */
  debounceMs?: number;
  /** Called with every desired state that differs from the previous one (content or git revision). */
  onChange: (state: DesiredState) => void;
  /** Called when reading the directory fails as a whole (e.g. it vanished); the last state stays in force. */
  onError?: (error: Error) => void;
  loader?: ManifestLoader;
  /**
   * Folders and files under the directory that the model reads besides the
   * manifests (build contexts): a change to one re-reads the state and
   * reports it even though no manifest changed, so a new context hash rolls
   * its Service.
   */
  inputs?: () => readonly string[];
  /** false: no file watching; the owner calls `reload` when the directory changed (a git source swapping commits). */
  watch?: boolean;
}

export interface ManifestWatcher {
  /** The latest desired state. */
  readonly current: DesiredState;
  /** Reads the directory now (e.g. on resync, to notice a new git commit); resolves to the state then in force. */
  reload(): Promise<DesiredState>;
  close(): Promise<void>;
}

export class ManifestWatchError extends Error {
  constructor(dir: string, options: { cause: unknown }) {
    super(`cannot read manifests directory ${dir}; the previous desired state stays in force`, options);
    this.name = "ManifestWatchError";
  }
}

/**
 * Watches a manifests directory and reports each new desired state. File events
 * are debounced, so an editor's atomic save (write temp file, rename over) is one change.
 */
export async function watchManifests(dir: string, options: WatchOptions): Promise<ManifestWatcher> {
  const loader = options.loader ?? new ManifestLoader(dir);
  const debounceMs = options.debounceMs ?? 250;
  let current = await loader.load();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<DesiredState> | undefined;
  let again = false;
  let closed = false;

  /** An input other than a manifest changed since the last report: the next one is reported even if the manifests are the same. */
  let inputChanged = false;
  const fingerprint = (s: DesiredState) => `${s.contentHash}|${s.revision?.commit ?? ""}|${s.revision?.dirty ?? ""}`;

  const reload = async (): Promise<DesiredState> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          const next = await loader.load();
          const changed = fingerprint(next) !== fingerprint(current) || inputChanged;
          inputChanged = false;
          current = next;
          if (changed && !closed) options.onChange(next);
        } catch (error) {
          options.onError?.(new ManifestWatchError(loader.dir, { cause: error }));
        }
      } while (again && !closed);
      return current;
    })();
    try {
      return await running;
    } finally {
      running = undefined;
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
  };

  const handle = (stopWatching?: () => Promise<void>): ManifestWatcher => ({
    get current() {
      return current;
    },
    reload,
    async close() {
      closed = true;
      clearTimeout(timer);
      await stopWatching?.();
      await running;
    },
  });
  if (options.watch === false) return handle();

  const isInput = (path: string) => (options.inputs?.() ?? []).some((input) => path === input || path.startsWith(`${input}${sep}`));
  const watcher = watch(loader.dir, {
    ignoreInitial: true,
    ignored: (path, stats) => isIgnoredPath(loader.dir, path) || (!!stats?.isFile() && !isManifestFileName(basename(path)) && !isInput(path)),
  });
  watcher.on("all", (_event, path) => {
    if (!isManifestFileName(basename(path)) && isInput(path)) inputChanged = true;
    schedule();
  });
  watcher.on("error", (error) => options.onError?.(new ManifestWatchError(loader.dir, { cause: error })));
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  return handle(() => watcher.close());
}

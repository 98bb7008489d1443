import type { Store } from "../store/index.ts";
import type { CliIO } from "./context.ts";

/**
 * Resolves `Service/name` (+ --env) or `Service/env/name` to a controller key.
 * Without an environment, the only environment that runs the service is used.
 */
export async function serviceKeyFromArgs(arg: string, env: string | undefined, store: Store): Promise<{ ok: true; key: string } | { ok: false; error: string }> {
  const parts = arg.replace(/^Service\//, "").split("/");
  if (parts.length === 2) return { ok: true, key: `Service/${parts[0]}/${parts[1]}` };
  const [name] = parts;
  if (env) return { ok: true, key: `Service/${env}/${name}` };
  const candidates = (await store.resources.list()).filter((r) => r.kind === "Service" && r.name.endsWith(`/${name}`)).map((r) => r.key);
  if (candidates.length === 1) return { ok: true, key: candidates[0]! };
  if (candidates.length === 0) return { ok: false, error: `Service/${name} has no record in the store; expected a service Berth has reconciled, e.g. Service/production/${name}` };
  return { ok: false, error: `Service/${name} runs in several environments (${candidates.map((c) => c.split("/")[1]).join(", ")}); expected --env, e.g. --env ${candidates[0]!.split("/")[1]}` };
}

/** Opens the store, resolves the service argument and runs `fn`; prints the problem and exits 1 when it does not resolve. */
export async function withServiceRecords(
  io: CliIO,
  setExitCode: (code: number) => void,
  args: { service: string; env?: string; db: string },
  fn: (store: Store, key: string) => Promise<void>,
): Promise<void> {
  // Loaded here, not at start-up: --help and version never load the store.
  const { openStore } = await import("../store/index.ts");
  const store = await openStore(args.db, { mustExist: true });
  try {
    const resolved = await serviceKeyFromArgs(args.service, args.env, store);
    if (!resolved.ok) {
      io.stderr(`${resolved.error}\n`);
      return setExitCode(1);
    }
    await fn(store, resolved.key);
  } finally {
    store.close();
  }
}

import { realpathSync } from "node:fs";
import { resolve, sep } from "node:path";
import { SpecError } from "./env.ts";

/** The CLI flag that widens the policy; every refusal names it. */
export const ALLOW_HOST_PATH_FLAG = "--allow-host-path";

/** What the operator of the daemon's host allows beyond the defaults: never read from a manifest. */
export interface HostPathOptions {
  /** Absolute paths (files or folders) that env files, build contexts and binds may use, on top of the defaults. */
  allow: string[];
}

/** Bind sources refused by default: these, and every folder above one of them (a bind of `/var` holds `/var/run/docker.sock`). */
const PROTECTED = ["/", "/etc", "/proc", "/sys", "/dev", "/root", "/boot", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/var/lib/docker", "/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock"];
/** Folders whose every descendant is refused as a bind source by default too (a rootless engine's socket lives under /run/user). */
const PROTECTED_TREES = ["/etc", "/proc", "/sys", "/var/lib/docker", "/run/user", "/run/containerd", "/var/run/containerd"];

/** `path` is `folder` or lies below it (by whole path segments). */
export function isUnder(path: string, folder: string): boolean {
  if (path === folder) return true;
  return path.startsWith(folder.endsWith(sep) ? folder : `${folder}${sep}`);
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The host-path policy: what a manifest may make the daemon read (env files,
 * build contexts: inside the manifests directory, after symlinks) and mount
 * (binds: anything but the host's system folders and the Docker socket),
 * unless the operator allows more with --allow-host-path. A manifest cannot
 * widen it: whoever can commit is not whoever runs the host.
 */
export class HostPathPolicy {
  private readonly roots: string[];
  private readonly allowed: string[];

  constructor(manifestsDir: string, options: HostPathOptions = { allow: [] }) {
    this.roots = withReal(resolve(manifestsDir));
    this.allowed = options.allow.flatMap((p) => withReal(resolve(p)));
  }

  /**
   * The real path of a file or folder the daemon is to read for a manifest (an env file, a build context),
   * refused unless it lies inside the manifests directory or under an allowed path. A path that does not
   * resolve (missing) is judged as written and returned as it is, for the reader to report.
   */
  readable(path: string, what: string, where: string): string {
    const real = realOrUndefined(path) ?? path;
    if (this.roots.some((root) => isUnder(real, root)) || this.isAllowed(real)) return real;
    const via = real === path ? "" : ` (${path} resolves to it)`;
    throw new SpecError(`${at(where)}${what} ${real}${via} is outside the manifests directory ${this.roots[0]}; the host-path policy lets a manifest read only files inside it. If the daemon's host should share it, start berth with ${ALLOW_HOST_PATH_FLAG} ${real}`);
  }

  /**
   * Refuses a bind mount of a system folder or the Docker socket (or a folder above one) unless allowed.
   * `local`: the source is on the daemon's host, so a symlink is followed too (the engine mounts its target).
   */
  bindable(written: string, where: string, local: boolean): void {
    // Judged as what it names: "/tmp/../etc", "//" and "/./" are "/etc" and "/".
    const source = resolve(written);
    const real = local ? realOrUndefined(source) : undefined;
    for (const path of real && real !== source ? [source, real] : [source]) {
      if (!this.isProtected(path) || this.isAllowed(path)) continue;
      const via = path === source ? "" : ` (${source} resolves to it)`;
      throw new SpecError(`${at(where)}bind mount of ${path}${via} is refused by the host-path policy: it is, or holds, a system folder or the Docker socket, which would give the containers the host. If the host's operator means it, start berth with ${ALLOW_HOST_PATH_FLAG} ${path}`);
    }
  }

  private isProtected(path: string): boolean {
    return PROTECTED.some((p) => isUnder(p, path)) || PROTECTED_TREES.some((tree) => isUnder(path, tree));
  }

  private isAllowed(path: string): boolean {
    return this.allowed.some((prefix) => isUnder(path, prefix));
  }
}

const at = (where: string) => (where ? `${where}: ` : "");

/** A path and, when it differs, its real path (a prefix given through a symlink covers both spellings). */
function withReal(path: string): string[] {
  const real = realOrUndefined(path);
  return real && real !== path ? [path, real] : [path];
}

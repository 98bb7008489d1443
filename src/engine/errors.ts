/**
 * A pass failed in a way waiting cannot fix (a missing env file, an image
 * missing under pullPolicy Never, a name owned by another target, a host port
 * held outside Berth): `apply --wait` ends at once. With `retry`, the key is
 * still looked at again with backoff, since the world may change on its own
 * (someone loads the image, frees the port).
 */
export class TerminalReconcileError extends Error {
  readonly retry: boolean;
  /** A CamelCase cause for the resource's Ready condition and Warning event, e.g. ImagePullUnauthorized. */
  readonly reason?: string;
  constructor(message: string, options: { cause?: unknown; retry?: boolean; reason?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = "TerminalReconcileError";
    this.retry = options.retry ?? false;
    this.reason = options.reason;
  }
}

/** A reconcile needed a target whose engine is not connected; its next connection queues the work again. */
export class TargetUnavailableError extends Error {
  constructor(target: string, cause?: string) {
    super(`DeploymentTarget/${target} is not connected${cause ? `: ${cause}` : ""}`);
    this.name = "TargetUnavailableError";
  }
}

/** A one-line message for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

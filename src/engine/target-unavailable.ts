/** A reconcile needed a target whose engine is not connected; its next connection queues the work again. */
export class TargetUnavailableError extends Error {
  constructor(target: string, cause?: string) {
    super(`DeploymentTarget/${target} is not connected${cause ? `: ${cause}` : ""}`);
    this.name = "TargetUnavailableError";
  }
}

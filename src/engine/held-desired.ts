import type { Logger } from "../log/logger.ts";
import type { DesiredState } from "../manifests/load.ts";
import type { AgeKeyring } from "../secrets/age-keys.ts";

/**
 * Holds a desired state back while SOPS data keys it needs are still being
 * decrypted (age is asynchronous, the model build is not), then applies it.
 * The newest state wins: one held back and overtaken is never applied.
 * Meanwhile the model in force stays, so no Service briefly sees its secrets as missing.
 */
export class HeldDesired {
  private held?: DesiredState;
  private ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly apply: (state: DesiredState) => void,
    private readonly log: Logger,
  ) {}

  /** True when `state` was held back (its model needs keys still being decrypted); it is applied once they are. */
  hold(state: DesiredState, keys: AgeKeyring | undefined): boolean {
    if (!keys?.pending()) {
      this.held = undefined;
      return false;
    }
    this.held = state;
    this.ready = keys.settled().then(() => {
      if (this.held !== state) return;
      this.held = undefined;
      try {
        this.apply(state);
      } catch (error) {
        this.log.error("desired state not applied", { error: error instanceof Error ? error.message : String(error) });
      }
    });
    return true;
  }

  /** Resolves once no state is held back. */
  async settled(): Promise<void> {
    for (let ready; ready !== this.ready; ) await (ready = this.ready);
  }
}

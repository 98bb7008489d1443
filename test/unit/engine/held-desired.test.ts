import { describe, expect, it } from "vitest";
import { HeldDesired } from "../../../src/engine/held-desired.ts";
import { createLogger } from "../../../src/log/logger.ts";
import type { DesiredState } from "../../../src/manifests/load.ts";
import type { AgeKeyring } from "../../../src/secrets/age-keys.ts";

/** A keyring whose decryption ends when the test says so. */
function keys() {
  let finish!: () => void;
  let pending = true;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const ring = { pending: () => pending, settled: () => done } as unknown as AgeKeyring;
  return { ring, finish: () => ((pending = false), finish()) };
}

const state = (n: number) => ({ contentHash: String(n) }) as DesiredState;

describe("HeldDesired", () => {
  it("applies a held state once its keys are decrypted, and only the newest of several", async () => {
    const applied: string[] = [];
    const held = new HeldDesired((s) => applied.push(s.contentHash), createLogger({ level: "error", write: () => {} }));
    const k = keys();
    expect(held.hold(state(1), k.ring)).toBe(true);
    expect(held.hold(state(2), k.ring)).toBe(true);
    expect(applied).toEqual([]);
    k.finish();
    await held.settled();
    expect(applied).toEqual(["2"]);
  });

  it("holds nothing when no key is pending, and a state applied directly overtakes a held one", async () => {
    const applied: string[] = [];
    const held = new HeldDesired((s) => applied.push(s.contentHash), createLogger({ level: "error", write: () => {} }));
    expect(held.hold(state(1), undefined)).toBe(false);
    const k = keys();
    expect(held.hold(state(2), k.ring)).toBe(true);
    expect(held.hold(state(3), { pending: () => false } as unknown as AgeKeyring)).toBe(false);
    k.finish();
    await held.settled();
    expect(applied).toEqual([]);
  });
});

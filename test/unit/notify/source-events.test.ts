import { describe, expect, it } from "vitest";
import type { NotificationEvent } from "../../../src/notify/notifier.ts";
import { sourceNotifications } from "../../../src/notify/source-events.ts";
import type { SourceStatus } from "../../../src/source/follower.ts";

const status = (readySince: number): SourceStatus => ({ name: "git", url: "ssh://git@example.com/ops.git", ref: "main", commit: "a".repeat(40), conditions: [{ type: "SourceReady", status: "False", reason: "FetchFailed", message: "down", lastTransitionTime: readySince }] });

describe("source notifications", () => {
  it("tell a failure once per outage and a refused commit once, with the commit", () => {
    const sent: NotificationEvent[] = [];
    const observer = sourceNotifications({ notify: async (e) => void sent.push(e) });
    const failed = { event: "source.failed" as const, reason: "FetchFailed", message: "cannot fetch" };
    observer.sourceProblem!(status(1), failed);
    observer.sourceProblem!(status(1), failed);
    observer.sourceProblem!(status(2), failed);
    const refused = { event: "source.unverified" as const, reason: "Unverified", message: "commit bbb is not applied", commit: "b".repeat(40) };
    observer.sourceProblem!(status(2), refused);
    expect(sent.map((e) => e.event)).toEqual(["source.failed", "source.failed", "source.failed", "source.unverified"]);
    // The outbox keeps one row per key: the first two are the same outage.
    expect(new Set(sent.map((e) => e.dedupeKey)).size).toBe(3);
    expect(sent[3]).toMatchObject({ commit: "b".repeat(40), message: "commit bbb is not applied" });
    expect(sent[0]).toMatchObject({ commit: "a".repeat(40) });
  });
});

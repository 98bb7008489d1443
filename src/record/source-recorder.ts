import type { Metrics } from "../metrics/metrics.ts";
import type { SourceObserver, SourceStatus } from "../source/follower.ts";
import type { Store } from "../store/index.ts";

export interface SourceRecorderOptions {
  metrics: Metrics;
  /** Queues a store write the recorder's way (ordered, faults counted, never thrown). */
  write: (table: string, fn: (store: Store) => Promise<unknown>) => void;
  /** Records an event the recorder's way (masked, folded). */
  event: (type: "Normal" | "Warning", reason: string, message: string, kind: string, name: string, commit?: string) => void;
}

/** The git source's status as a `sources` row, `berth_source_info`/`berth_source_ready`, and events. */
export function sourceRecorder(options: SourceRecorderOptions): SourceObserver {
  const { metrics } = options;
  let info: Record<string, string> | undefined;
  return {
    sourceChanged(status: SourceStatus) {
      const next = { url: status.url, ref: status.ref, commit: status.commit ?? "", verified: status.verified === undefined ? "unchecked" : String(status.verified) };
      if (info && JSON.stringify(info) !== JSON.stringify(next)) metrics.sourceInfo.remove(info);
      metrics.sourceInfo.set(next, 1);
      info = next;
      const ready = status.conditions.find((c) => c.type === "SourceReady");
      metrics.sourceReady.set({ url: status.url, ref: status.ref }, ready?.status === "True" ? 1 : 0);
      options.write("sources", (store) =>
        store.sources.report({
          name: status.name,
          url: status.url,
          ref: status.ref,
          commit: status.commit ?? null,
          subject: status.subject ?? null,
          fetchedCommit: status.fetchedCommit ?? null,
          fetchedAt: status.fetchedAt ?? null,
          verified: status.verified ?? null,
          signer: status.signer ?? null,
          conditions: status.conditions,
        }),
      );
    },
    sourceProblem(status, problem) {
      options.event("Warning", problem.reason === "Unverified" ? "SourceUnverified" : "SourceFailed", problem.message, "Source", status.name, problem.commit ?? status.commit);
    },
    sourceCommitted(status, commit) {
      options.event("Normal", "SourceCommitted", `commit ${commit.commit.slice(0, 12)} "${commit.subject}" of ${status.ref} is in force${status.signer ? `, signed by ${status.signer}` : ""}`, "Source", status.name, commit.commit);
    },
  };
}

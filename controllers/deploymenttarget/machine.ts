import { assign, fromPromise, setup } from "xstate";
import { errorOf, messageOf, outputOf } from "../../src/engine/actor-events.ts";

import type { EngineInfo, TargetPhase } from "../../src/engine/targets.ts";

export type { EngineInfo, TargetPhase };

export interface TargetContext {
  name: string;
  phase: TargetPhase;
  engine?: EngineInfo;
  error?: string;
  backoffMs: number;
  /** Times the target became active; lets watchers tell a reconnect from a steady state. */
  connections: number;
}

export const INITIAL_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 5 * 60_000;

const connectNotProvided = fromPromise<EngineInfo, { name: string }>(async () => {
  throw new Error("the connect actor was not provided");
});
const watchNotProvided = fromPromise<void, { name: string }>(async () => {
  throw new Error("the watchEvents actor was not provided");
});

/**
 * Connection lifecycle of a DeploymentTarget: connect (ping, engine version),
 * then follow the engine's event stream while active; when the stream or the
 * connection breaks, retry with exponential backoff while unreachable.
 */
export const targetMachine = setup({
  types: {} as { context: TargetContext; events: { type: "RECONNECT" }; input: { name: string } },
  actors: {
    connect: connectNotProvided,
    watchEvents: watchNotProvided,
  },
  delays: { backoff: ({ context }) => context.backoffMs },
  actions: {
    recordEngine: assign({
      engine: ({ event }) => outputOf<EngineInfo>(event),
      error: undefined,
      backoffMs: INITIAL_BACKOFF_MS,
      connections: ({ context }) => context.connections + 1,
    }),
    recordError: assign({ error: ({ event }) => messageOf(errorOf(event)) }),
    growBackoff: assign({ backoffMs: ({ context }) => Math.min(context.backoffMs * 2, MAX_BACKOFF_MS) }),
    enterPhase: assign({ phase: (_, params: { phase: TargetPhase }) => params.phase }),
  },
}).createMachine({
  id: "deploymenttarget",
  context: ({ input }) => ({ name: input.name, phase: "Connecting", backoffMs: INITIAL_BACKOFF_MS, connections: 0 }),
  initial: "connecting",
  states: {
    connecting: {
      entry: { type: "enterPhase", params: { phase: "Connecting" } },
      invoke: {
        src: "connect",
        input: ({ context }) => ({ name: context.name }),
        onDone: { target: "active", actions: "recordEngine" },
        onError: { target: "unreachable", actions: "recordError" },
      },
    },
    active: {
      entry: { type: "enterPhase", params: { phase: "Active" } },
      invoke: {
        src: "watchEvents",
        input: ({ context }) => ({ name: context.name }),
        onDone: { target: "connecting" },
        // A stream that breaks waits out the backoff, so a refused event endpoint cannot spin.
        onError: { target: "unreachable", actions: "recordError" },
      },
      on: { RECONNECT: "connecting" },
    },
    unreachable: {
      entry: { type: "enterPhase", params: { phase: "Unreachable" } },
      after: { backoff: { target: "connecting", actions: "growBackoff" } },
      on: { RECONNECT: "connecting" },
    },
  },
});

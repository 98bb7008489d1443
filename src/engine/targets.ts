import type { Driver, EngineEvent } from "../docker/driver.ts";
import type { DeploymentTarget } from "../manifests/types.ts";

export interface EngineInfo {
  version: string;
  apiVersion: string;
  latencyMs: number;
}

export type TargetPhase = "Connecting" | "Active" | "Unreachable";

/** A target's connection as `status` shows it. */
export interface TargetView {
  name: string;
  phase: TargetPhase;
  engine?: EngineInfo;
  error?: string;
}

/** What the target connections tell the manager. */
export interface TargetListener {
  /** The target (re)connected: its keys are queued, leftovers looked for. */
  connected(name: string): void;
  changed(name: string, phase: TargetPhase, engine: EngineInfo | undefined, error: string | undefined): void;
  event(name: string, event: EngineEvent): void;
}

/** The connections to every declared target; the DeploymentTarget controller provides them. */
export interface TargetConnections {
  /** Connects new or changed targets, closes removed ones. */
  sync(targets: ReadonlyMap<string, DeploymentTarget>): void;
  /** The driver of a connected target; throws TargetUnavailableError otherwise. */
  driver(name: string): Driver;
  isActive(name: string): boolean;
  /** Forgets what was read of every target: the next pass looks again (a resync, a new desired state). */
  refresh(): void;
  /** Waits for the containers each target stops in the background. */
  awaitRetirements(): Promise<void>;
  status(): TargetView[];
  stop(): void;
}

export interface ConnectOptions {
  /** Builds the driver for a target (local socket or SSH). */
  connect: (target: DeploymentTarget) => Driver;
  /** Follow engine event streams (the daemon does; a one-shot command need not). */
  watchEvents: boolean;
  listener: TargetListener;
}

export type TargetConnectionsFactory = (options: ConnectOptions) => TargetConnections;

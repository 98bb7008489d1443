import type { ResourceStatus } from "../engine/manager.ts";
import { table } from "./table.ts";

/** The manager's view of every resource as a table: kind, name, phase, ready, message. */
export function renderStatusTable(statuses: readonly ResourceStatus[]): string {
  return table(["KIND", "NAME", "PHASE", "READY", "MESSAGE"], statuses.map((s) => [s.kind, s.name, s.phase, s.ready ? "yes" : "no", s.message]));
}

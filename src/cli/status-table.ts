import type { ResourceStatus } from "../engine/manager.ts";

/** A fixed-width table of resources: kind, name, phase, ready, message. */
export function renderStatusTable(statuses: readonly ResourceStatus[]): string {
  const rows = [["KIND", "NAME", "PHASE", "READY", "MESSAGE"], ...statuses.map((s) => [s.kind, s.name, s.phase, s.ready ? "yes" : "no", s.message])];
  const widths = rows[0]!.slice(0, -1).map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => r.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell)).join("  ").trimEnd()).join("\n")}\n`;
}

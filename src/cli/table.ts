/** A fixed-width table: every column but the last padded to its widest cell. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.slice(0, -1).map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return `${all.map((r) => r.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell)).join("  ").trimEnd()).join("\n")}\n`;
}

/** Elapsed time as kubectl shows it: 45s, 3m, 2h, 4d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

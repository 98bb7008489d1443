// Module resolution hooks that write every resolved URL to $BERTH_TRACE_FILE: which modules a command loads.
import { appendFileSync } from "node:fs";

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (process.env.BERTH_TRACE_FILE) appendFileSync(process.env.BERTH_TRACE_FILE, `${resolved.url}\n`);
  return resolved;
}

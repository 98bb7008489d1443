import type { PassContext } from "./controller.ts";
import { messageOf, TargetUnavailableError } from "./errors.ts";
import type { PlanChange } from "./plan-change.ts";
import type { Runner } from "./runner.ts";
import type { TargetConnections } from "./targets.ts";

/** What `plan` found: the changes a reconcile would make, and what it could not plan. */
export interface PlanResult {
  changes: PlanChange[];
  errors: { resource: string; message: string }[];
}

/**
 * Runs each key's ordinary pass once with a dry-run context, in order:
 * the executor records instead of acting, so the plan is what the same
 * decision would do.
 */
export async function planPass(runner: Runner, ctx: PassContext, keys: readonly string[], targets: Pick<TargetConnections, "isActive" | "status">): Promise<PlanResult> {
  const result: PlanResult = { changes: [], errors: [] };
  for (const key of keys) {
    const target = runner.controllerOf(key)?.targetOf(key, ctx);
    if (target && !targets.isActive(target)) {
      const error = targets.status().find((t) => t.name === target)?.error;
      result.errors.push({ resource: key, message: new TargetUnavailableError(target, error).message });
      continue;
    }
    try {
      const pass = await runner.once(key, ctx);
      result.changes.push(...pass.plan);
      // Any error the pass met is one the plan cannot see past (a held revision is not an error).
      if (pass.error && !pass.plan.length) result.errors.push({ resource: key, message: pass.error.message });
    } catch (error) {
      result.errors.push({ resource: key, message: messageOf(error) });
    }
  }
  return result;
}

const SYMBOL: Record<PlanChange["action"], string> = { create: "+", delete: "-", update: "~", rollout: "~", scale: "~", start: "~", stop: "~", repair: "~", adopt: "=" };

/** The plan as text: one line per change, naming the strategy and the changed fields. */
export function renderPlan(plan: PlanResult): string {
  const lines: string[] = [];
  for (const c of plan.changes) {
    const fields = c.fields.length ? `; changed: ${c.fields.join(", ")}` : "";
    lines.push(`${SYMBOL[c.action]} ${c.resource}: ${c.action}${c.reason ? ` (${c.reason})` : ""}${fields}`);
  }
  for (const e of plan.errors) lines.push(`! ${e.resource}: cannot plan: ${e.message}`);
  if (plan.errors.length) lines.push(`${plan.errors.length} resource(s) could not be planned.`);
  else lines.push(plan.changes.length === 0 ? "No changes: Docker matches the manifests." : `${plan.changes.length} change${plan.changes.length === 1 ? "" : "s"} pending.`);
  return `${lines.join("\n")}\n`;
}

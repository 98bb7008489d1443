/** What `plan` reports for one resource: the contract of `plan -o json`. */
export interface PlanChange {
  /** e.g. `Service/production/web`, `Environment/production`, `Volume/shop-production-data`. */
  resource: string;
  action: "create" | "update" | "delete" | "rollout" | "scale" | "start" | "stop" | "repair" | "adopt";
  strategy: "rolling" | "recreate" | null;
  reason: string;
  /** Manifest fields whose change causes this, e.g. ["spec.image"]. */
  fields: string[];
}

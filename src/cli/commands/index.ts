import type { CommandModule } from "../context.ts";
import * as apply from "./apply.ts";
import * as backup from "./backup.ts";
import * as diffEnv from "./diff-env.ts";
import * as events from "./events.ts";
import * as exec from "./exec.ts";
import * as health from "./health.ts";
import * as history from "./history.ts";
import * as importCommand from "./import.ts";
import * as logs from "./logs.ts";
import * as migrate from "./migrate.ts";
import * as plan from "./plan.ts";
import * as rollback from "./rollback.ts";
import * as rollout from "./rollout.ts";
import * as run from "./run.ts";
import * as secrets from "./secrets.ts";
import * as status from "./status.ts";
import * as validate from "./validate.ts";
import * as version from "./version.ts";

/**
 * Every command, in the order --help lists them. Each module registers its
 * options only and imports what it runs when it runs, so this list stays light.
 */
export const COMMANDS: readonly CommandModule[] = [apply, backup, diffEnv, events, exec, health, history, importCommand, logs, migrate, plan, rollback, rollout, run, secrets, status, validate, version];

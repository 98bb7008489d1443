import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "berth-alerts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs promtool's rule unit tests on the shipped alert rules; promtool comes with Debian's prometheus package. */
function promtoolTest(tests: string): { status: number | null; output: string } {
  const file = join(dir, "alerts.test.yml");
  writeFileSync(file, `rule_files: [${resolve("docs/monitoring/alerts.yml")}]\nevaluation_interval: 1m\n${tests}`);
  const run = spawnSync("promtool", ["test", "rules", file], { encoding: "utf8" });
  if (run.error) throw new Error(`promtool is needed for this test; install Debian's prometheus package (apt-get install prometheus): ${run.error.message}`);
  return { status: run.status, output: run.stdout + run.stderr };
}

const db = 'project="shop",environment="production",service="db",volume="data",job="berth",instance="berth:9465"';
const web = 'project="shop",environment="production",service="web",volume="uploads",job="berth",instance="berth:9465"';
/** Input series every case has: db's hourly schedule and a daemon started at minute 0. */
const SCHEDULED = `      - series: 'berth_backup_schedule_interval_seconds{${db}}'
        values: '3600x200'
      - series: 'process_start_time_seconds{job="berth",instance="berth:9465"}'
        values: '0x200'`;

describe("the shipped backup alerts", () => {
  it("pass promtool's checks (every group)", () => {
    const check = spawnSync("promtool", ["check", "rules", "docs/monitoring/alerts.yml"], { encoding: "utf8" });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });

  it("fire once a volume has had no successful backup for two intervals of its schedule, and not before", () => {
    // An hourly schedule; db's last success stays at minute 0, web backs up every hour. Times are minutes from 0.
    const result = promtoolTest(`tests:
  - interval: 1m
    input_series:
${SCHEDULED}
      - series: 'berth_backup_schedule_interval_seconds{${web}}'
        values: '3600x200'
      - series: 'berth_backup_last_success_timestamp_seconds{${db}}'
        values: '0x200'
      - series: 'berth_backup_last_success_timestamp_seconds{${web}}'
        values: '0+0x59 3600+0x59 7200+0x59 10800+0x20'
    alert_rule_test:
      - eval_time: 119m
        alertname: BerthBackupMissing
        exp_alerts: []
      - eval_time: 121m
        alertname: BerthBackupMissing
        exp_alerts:
          - exp_labels: {severity: critical, ${db.replace(/="/g, ": \"")}}
            exp_annotations:
              summary: "No successful backup of volume data of production/db in two schedule intervals"
              description: "See berth backups Service/production/db and the BackupFailed events for why."
      - eval_time: 121m
        alertname: BerthBackupNeverSucceeded
        exp_alerts: []
`);
    expect(result.status, result.output).toBe(0);
  });

  it("fire for a volume never backed up once the daemon has run for two intervals", () => {
    const result = promtoolTest(`tests:
  - interval: 1m
    input_series:
${SCHEDULED}
    alert_rule_test:
      - eval_time: 119m
        alertname: BerthBackupNeverSucceeded
        exp_alerts: []
      - eval_time: 121m
        alertname: BerthBackupNeverSucceeded
        exp_alerts:
          - exp_labels: {severity: critical, ${db.replace(/="/g, ": \"")}}
            exp_annotations:
              summary: "Volume data of production/db has no successful backup yet"
              description: "See berth backups Service/production/db and the BackupFailed events for why."
`);
    expect(result.status, result.output).toBe(0);
  });
});

describe("the shipped leadership alerts", () => {
  it("fire when no daemon leads for a minute (a leader died and none took over), and when two lead at once", () => {
    // Daemon a leads until minute 10 and then follows; b follows until minute 20, then leads, and a leads again from 40.
    const result = promtoolTest(`tests:
  - interval: 1m
    input_series:
      - series: 'berth_leader{job="berth",instance="a:9464"}'
        values: '1x9 0x29 1x20'
      - series: 'berth_leader{job="berth",instance="b:9464"}'
        values: '0x19 1x40'
    alert_rule_test:
      - eval_time: 5m
        alertname: BerthNoLeader
        exp_alerts: []
      - eval_time: 15m
        alertname: BerthNoLeader
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "No Berth daemon leads: nothing is reconciled"
              description: "Each daemon's /readyz says whom it follows; a leader that cannot renew its lease (database unreachable) exits, see docs/ha.md."
      - eval_time: 25m
        alertname: BerthNoLeader
        exp_alerts: []
      - eval_time: 25m
        alertname: BerthTwoLeaders
        exp_alerts: []
      - eval_time: 45m
        alertname: BerthTwoLeaders
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "2 Berth daemons lead at once"
              description: "Daemons meant to share one database lead separately: compare their --db; only daemons on one database elect one leader."
`);
    expect(result.status, result.output).toBe(0);
  });
});

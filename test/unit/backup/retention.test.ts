import { describe, expect, it } from "vitest";
import { archivesToPrune } from "../../../src/backup/retention.ts";
import { backupScript, parseBackupOutput, pruneScript, restoreScript, shellQuote } from "../../../src/backup/script.ts";
import { scheduleIntervalSeconds } from "../../../src/backup/scheduler.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 3, 12);
/** Archives 1..n, archive i made i-1 days before NOW (1 is the newest). */
const daily = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1, startedAt: NOW - i * DAY }));

describe("archivesToPrune", () => {
  it.each([
    { name: "count: keeps the newest n", archives: daily(5), retain: { count: 3 }, want: [4, 5] },
    { name: "count: fewer than n, nothing goes", archives: daily(2), retain: { count: 3 }, want: [] },
    { name: "age: older than the age go", archives: daily(5), retain: { ageMs: 2.5 * DAY }, want: [4, 5] },
    { name: "both: beyond the count or older than the age", archives: daily(6), retain: { count: 4, ageMs: 2.5 * DAY }, want: [4, 5, 6] },
    { name: "both: the count is the tighter one", archives: daily(6), retain: { count: 2, ageMs: 10 * DAY }, want: [3, 4, 5, 6] },
    { name: "age: the newest stays however old", archives: [{ id: 7, startedAt: NOW - 40 * DAY }], retain: { ageMs: DAY }, want: [] },
    { name: "order of the input does not matter", archives: daily(4).reverse(), retain: { count: 1 }, want: [2, 3, 4] },
    { name: "same start: the higher id is the newer", archives: [{ id: 1, startedAt: NOW }, { id: 2, startedAt: NOW }], retain: { count: 1 }, want: [1] },
  ])("$name", ({ archives, retain, want }) => {
    expect(archivesToPrune(archives, retain, NOW).sort((a, b) => a - b)).toEqual(want);
  });
});

describe("helper scripts", () => {
  it("quote every path for sh, however it is spelt", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(pruneScript(["shop-prod/db/data/old 'one'.tar.gz"])).toContain(`rm -f '/berth/archives/shop-prod/db/data/old '\\''one'\\''.tar.gz' '/berth/archives/shop-prod/db/data/old '\\''one'\\''.tar.gz.sha256'`);
  });

  it("backup writes under a temporary name and renames only once the checksum is known; it deletes nothing", () => {
    const script = backupScript("shop-prod/db/data/x.tar.gz");
    expect(script.startsWith("set -eu\n")).toBe(true);
    expect(script.indexOf("sha256sum")).toBeLessThan(script.indexOf("mv "));
    expect(script.indexOf('case "$sum"')).toBeLessThan(script.indexOf("mv "));
    expect(script).not.toMatch(/rm -f '\/berth\/archives\/shop-prod\/db\/data\/x/);
  });

  it("restore checks the checksum before it touches the volume, and unpacks beside the data first", () => {
    const script = restoreScript("a/b.tar.gz", "f".repeat(64));
    const check = script.indexOf("sha256sum");
    const unpack = script.indexOf("tar -xzf");
    const wipe = script.indexOf("-exec rm -rf");
    expect(check).toBeGreaterThan(0);
    expect(check).toBeLessThan(unpack);
    expect(unpack).toBeLessThan(wipe);
  });

  it("reads what the backup script printed, and nothing else", () => {
    expect(parseBackupOutput(`tar: removing leading /\nberth-backup sha256=${"a".repeat(64)} size=1234\n`)).toEqual({ sha256: "a".repeat(64), sizeBytes: 1234 });
    expect(parseBackupOutput("sh: tar: not found\n")).toBeUndefined();
    expect(parseBackupOutput("berth-backup sha256= size=\n")).toBeUndefined();
  });
});

describe("scheduleIntervalSeconds", () => {
  const from = new Date(Date.UTC(2026, 11, 3, 10, 0, 30));
  it.each([
    { schedule: "*/2 * * * * *", want: 2 },
    { schedule: "*/15 * * * *", want: 900 },
    { schedule: "@hourly", want: 3600 },
    { schedule: "0 3 * * *", want: 86_400 },
  ])("$schedule -> $want s", ({ schedule, want }) => {
    expect(scheduleIntervalSeconds(schedule, from)).toBe(want);
  });
});

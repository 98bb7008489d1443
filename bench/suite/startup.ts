import { median, run, type Row } from "./common.ts";

/** `berth version` against `node -e 0`: what Berth's own start-up adds to Node's (median of `runs`, after one warm-up). */
export async function startupRows(runs = 9): Promise<Row[]> {
  const sample = async (command: string, args: string[]) => {
    await run(command, args);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push((await run(command, args)).ms);
    return median(times);
  };
  const node = await sample(process.execPath, ["-e", "0"]);
  const version = await sample(process.execPath, ["bin/berth.js", "version"]);
  const validate = await sample(process.execPath, ["bin/berth.js", "validate", "manifests"]);
  return [
    { name: "start-up: berth version", berth: version, reference: node, against: "node -e 0", unit: "ms", ratio: version / node, target: "≤ 3.00", met: version / node <= 3 },
    { name: "start-up: berth validate (example)", berth: validate, reference: node, against: "node -e 0", unit: "ms", ratio: validate / node, target: "—", met: true, note: "loads the validator; no target" },
  ];
}

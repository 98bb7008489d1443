#!/usr/bin/env node
// Runs the compiled CLI (dist/, made by `npm run build`): no TypeScript compiler at run time.
let main;
try {
  ({ main } = await import("../dist/berth.js"));
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist/berth.js")) throw error;
  process.stderr.write("berth: the compiled CLI is missing (dist/); in a checkout, run npm run build first\n");
  process.exit(1);
}
process.exitCode = await main(process.argv);

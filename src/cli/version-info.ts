import { readFileSync } from "node:fs";

/** Berth's version, from package.json. */
export function readPackageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

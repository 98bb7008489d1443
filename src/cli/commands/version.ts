import type { CommandModule } from "../context.ts";
import { API_VERSION } from "../../manifests/kinds.ts";
import { readPackageVersion } from "../version-info.ts";

/** `berth version`: what is running, and which manifest API it reads. */
export const register: CommandModule["register"] = (program, io) => {
  program
    .command("version")
    .description("print Berth's version, the manifest API version and the Node.js runtime")
    .action(() => {
      io.stdout(`berth ${readPackageVersion()}\nmanifest API: ${API_VERSION}\nnode: ${process.version}\n`);
    });
};

import type { CommandModule } from "../context.ts";
import { PREFERRED_API_VERSION, V1ALPHA1 } from "../../manifests/versions.ts";
import { readPackageVersion } from "../version-info.ts";

/** `berth version`: what is running, and which manifest API it reads. */
export const register: CommandModule["register"] = (program, io) => {
  program
    .command("version")
    .description("print Berth's version, the manifest API version and the Node.js runtime")
    .action(() => {
      io.stdout(`berth ${readPackageVersion()}\nmanifest API: ${PREFERRED_API_VERSION} (also served: ${V1ALPHA1}, deprecated)\nnode: ${process.version}\n`);
    });
};

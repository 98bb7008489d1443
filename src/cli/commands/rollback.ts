import type { CommandModule } from "../context.ts";
import { ApiError, apiOptions, callApi, servicePath, type ApiOptions } from "../api-client.ts";

/** `berth rollback Service/name --env E [--to REVISION]`: asks the daemon to roll a service back. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  const command = program
    .command("rollback")
    .description("roll a service back to the previous successful revision, or to --to (asks the running daemon; needs its API token)")
    .argument("<service>", "Service/name with --env, or Service/environment/name")
    .option("--env <environment>", "the environment, when the argument does not name one")
    .option("--to <revision>", "a successful revision from berth history: a spec hash prefix or a manifest commit prefix")
    .addHelpText("after", "\nThe service stays on that revision until its manifest changes or `berth rollout retry`.");
  for (const option of apiOptions()) command.addOption(option);
  command.action(async (service: string, options: ApiOptions & { env?: string; to?: string }) => {
    try {
      const path = servicePath(service, options.env);
      const answer = (await callApi(io, options, "POST", `/api/v1/services/${path}/rollback`, options.to ? { to: options.to } : {})) as { service: string; revision: string };
      io.stdout(`${answer.service}: rolling back to revision ${answer.revision.slice(0, 12)}; follow it with berth rollout status ${answer.service} --watch\n`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      io.stderr(`${error.message}\n`);
      setExitCode(1);
    }
  });
};

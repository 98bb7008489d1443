export { messageOf } from "./errors.ts";

/** The output carried by an invoked actor's done event. */
export function outputOf<T>(event: unknown): T {
  return (event as { output: T }).output;
}

/** The error carried by an invoked actor's error event. */
export function errorOf(event: unknown): unknown {
  return (event as { error: unknown }).error;
}

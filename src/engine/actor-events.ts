/** The output carried by an invoked actor's done event. */
export function outputOf<T>(event: unknown): T {
  return (event as { output: T }).output;
}

/** The error carried by an invoked actor's error event. */
export function errorOf(event: unknown): unknown {
  return (event as { error: unknown }).error;
}

/** A one-line message for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

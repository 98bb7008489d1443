import { parseDuration } from "../manifests/duration.ts";

/** Milliseconds of a duration the schema already validated. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`invalid duration "${text}"`);
  return ms;
}

const MEMORY_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes of a size such as 256m or 1.5g (binary units, as docker run --memory reads them). */
export function memoryBytes(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)([kKmMgG]?)i?[bB]?$/.exec(text);
  if (!match) throw new Error(`invalid size "${text}"`);
  return Math.round(Number(match[1]) * MEMORY_UNITS[match[2]!.toLowerCase()]!);
}

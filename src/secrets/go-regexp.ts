import { SopsError } from "./sops-cipher.ts";

/** JavaScript's own escapes in `u` mode; Go also takes `\` before any other punctuation as that character. */
const JS_ESCAPABLE = new Set("^$\\.*+?()[]{}|/-");
/** Go escapes that mean something else, or nothing, in JavaScript. */
const GO_ONLY_ESCAPES: Record<string, string> = { A: "\\A (start of text)", z: "\\z (end of text)", Q: "\\Q…\\E (quoted text)", C: "\\C (any byte)" };

/**
 * A sops rule regex (`encrypted_regex`, `unencrypted_regex`) written in Go's RE2 syntax, as a
 * JavaScript RegExp that matches the same key names. A leading `(?i)`, `(?m)` or `(?s)` (or a mix)
 * becomes a flag; `(?P<name>` becomes `(?<name>`; `\pL` becomes `\p{L}`; `\#`-style escapes become
 * `\x23`. Anything else only Go understands is refused with its position, never silently misread.
 */
export function goRegExp(pattern: string, key: string): RegExp {
  const refuse = (offset: number, what: string) =>
    new SopsError(`sops.${key} uses ${what} at offset ${offset}, which is Go syntax that Berth does not translate; expected a pattern in the syntax Go and JavaScript share (a leading (?i) is fine)`);
  const lead = /^\(\?([ims]+)\)/.exec(pattern);
  const flags = new Set(lead ? lead[1] : "");
  let out = "";
  let inClass = false;
  for (let i = lead ? lead[0].length : 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (GO_ONLY_ESCAPES[next]) throw refuse(i, GO_ONLY_ESCAPES[next]);
      if ((next === "p" || next === "P") && /^[A-Za-z]$/.test(pattern[i + 2] ?? "")) {
        out += `\\${next}{${pattern[i + 2]}}`;
        i += 2;
      } else if (/^[!-/:-@[-`{-~]$/.test(next) && !JS_ESCAPABLE.has(next)) {
        out += `\\x${next.charCodeAt(0).toString(16).padStart(2, "0")}`;
        i += 1;
      } else {
        out += c + next;
        i += 1;
      }
    } else if (inClass) {
      if (c === "[" && pattern[i + 1] === ":") throw refuse(i, "a POSIX class such as [:alpha:]");
      if (c === "]") inClass = false;
      out += c;
    } else if (c === "[") {
      inClass = true;
      out += c;
      // A "]" right after "[" or "[^" is a literal in Go.
      if (pattern[i + 1] === "^") out += pattern[++i];
      if (pattern[i + 1] === "]") (out += "\\]"), i++;
    } else if (c === "(" && pattern[i + 1] === "?") {
      if (pattern.startsWith("(?P<", i)) (out += "(?<"), (i += 3);
      else if (pattern[i + 2] === ":" || (pattern[i + 2] === "<" && /[A-Za-z_]/.test(pattern[i + 3] ?? ""))) out += c;
      else throw refuse(i, `the group ${pattern.slice(i, i + 4)}…`);
    } else out += c;
  }
  try {
    return new RegExp(out, `${[...flags].join("")}u`);
  } catch (error) {
    throw new SopsError(`sops.${key} is not a pattern Berth can read (${error instanceof Error ? error.message : String(error)}); expected Go regexp syntax as sops takes it`, { cause: error });
  }
}

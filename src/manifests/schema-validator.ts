import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { readJsonSchemas, type JsonSchema } from "./crd-schema.ts";
import { inlineYaml } from "./errors.ts";
import { KINDS, type Kind } from "./kinds.ts";
import { closestMatch } from "./suggest.ts";
import { V1ALPHA1, type ApiVersion } from "./versions.ts";
import type { FieldPath } from "./yaml-locator.ts";

// ajv-formats ships CommonJS; under NodeNext its default export is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** One schema violation, before it is tied to a file position. */
export interface SchemaIssue {
  path: FieldPath;
  /** Point at the field's name (unknown field) or at its value. */
  target: "key" | "value";
  problem: string;
  expected?: string;
  example?: string;
}

/** Human names for the patterns the CRDs use, so messages never show a raw regex. */
const PATTERN_NAMES: Record<string, string> = {
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
  "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$": "a duration such as 500ms, 10s, 1m30s or 2h",
  "^[0-9]+(\\.[0-9]+)?([kKmMgG]i?[bB]?)?$": "a size in bytes with an optional unit k, m or g, such as 256m, 1g or 512Mi",
  "^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name: letters, digits and '_', not starting with a digit",
  "^[A-Za-z_][A-Za-z0-9_.-]*$": "a key made of letters, digits, '_', '.' and '-'",
  "^/": "an absolute path starting with /",
  "^(unix://|tcp://).+": "a unix:// or tcp:// address",
  "^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$": "a user name or id, optionally followed by :group",
  "^ *(node[.](id|hostname|role|platform[.]os|platform[.]arch|labels[.][A-Za-z0-9_.-]+)|engine[.]labels[.][A-Za-z0-9_.-]+) *(==|!=) *[^ ]+ *$": "a placement constraint: node.role, node.hostname, node.id, node.platform.os, node.platform.arch, node.labels.<key> or engine.labels.<key>, then == or !=, then a value",
  "^(node|engine)[.]labels[.][A-Za-z0-9_.-]+$": "a node or engine label, such as node.labels.zone",
};

const FORMAT_NAMES: Record<string, string> = {
  hostname: "a host name such as example.com",
  "hostname-or-ip": "a fully qualified host name or an IP address",
  ipv4: "an IPv4 address",
  ipv6: "an IPv6 address",
};

/** Validates manifest documents against the JSON Schemas derived from the CRDs. */
export class SchemaValidator {
  private readonly ajv: Ajv;
  /** Compiled when a version is first met: most directories use one. */
  private readonly validators = new Map<ApiVersion, Record<Kind, ValidateFunction>>();

  constructor(private readonly schemasOf: (apiVersion: ApiVersion) => Record<Kind, JsonSchema> = (apiVersion) => readJsonSchemas(undefined, apiVersion)) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, strictRequired: false });
    addFormats(ajv);
    const isIp = (value: string) => ajv.formats.ipv4 instanceof RegExp && (ajv.formats.ipv4.test(value) || (ajv.formats.ipv6 as RegExp).test(value));
    const hostname = ajv.formats.hostname as RegExp;
    // A fully qualified name (it has a dot), localhost, or an address.
    ajv.addFormat("hostname-or-ip", (value: string) => isIp(value) || value === "localhost" || (hostname.test(value) && value.includes(".") && /[a-z]/i.test(value)));
    this.ajv = ajv;
  }

  private compiled(apiVersion: ApiVersion): Record<Kind, ValidateFunction> {
    let validators = this.validators.get(apiVersion);
    if (!validators) {
      const schemas = this.schemasOf(apiVersion);
      validators = Object.fromEntries(KINDS.map((kind) => [kind, this.ajv.compile(schemas[kind])])) as Record<Kind, ValidateFunction>;
      this.validators.set(apiVersion, validators);
    }
    return validators;
  }

  /** Checks one document of a known kind against its version's schema, filling in defaults; returns every violation found. */
  validate(kind: Kind, document: unknown, apiVersion: ApiVersion = V1ALPHA1): SchemaIssue[] {
    const validate = this.compiled(apiVersion)[kind];
    if (validate(document)) return [];
    const errors = (validate.errors ?? []).filter((e) => !insideCombinatorBranch(e));
    return dedupe(errors.map(describe));
  }
}

/** Branch failures of a oneOf/anyOf are summarised by the combinator's own error. */
function insideCombinatorBranch(error: ErrorObject): boolean {
  return /\/(oneOf|anyOf)\/\d+\//.test(error.schemaPath);
}

function dedupe(issues: SchemaIssue[]): SchemaIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path.join(".")}|${issue.problem}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function pathOf(instancePath: string): (string | number)[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split("/")
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function exampleOf(schema: unknown): string | undefined {
  const examples = (schema as JsonSchema | undefined)?.examples;
  return Array.isArray(examples) && examples.length > 0 ? inlineYaml(examples[0]) : undefined;
}

function shown(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return Array.isArray(value) ? "a list" : "a mapping";
  return inlineYaml(value);
}

function typeName(type: unknown): string {
  const names: Record<string, string> = {
    string: "a string",
    integer: "a whole number",
    number: "a number",
    boolean: "true or false",
    object: "a mapping",
    array: "a list",
    null: "null",
  };
  return Array.isArray(type) ? type.map(typeName).join(" or ") : (names[String(type)] ?? String(type));
}

function describe(error: ErrorObject): SchemaIssue {
  const path = pathOf(error.instancePath);
  // A value under an env list may be a secret: messages name its field, never repeat it.
  if (path.includes("env")) error = { ...error, data: typeof error.data === "object" && error.data !== null ? error.data : "(value hidden)" };
  const parent = error.parentSchema as JsonSchema | undefined;
  const example = exampleOf(parent);
  const field = String(path.at(-1) ?? "document");
  const value = error.data;
  switch (error.keyword) {
    case "required": {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      const schema = (parent?.properties as Record<string, JsonSchema> | undefined)?.[missing];
      const childExample = exampleOf(schema);
      return {
        path,
        target: "key",
        problem: `missing required field "${missing}"`,
        expected: `"${missing}" under ${path.length ? `"${field}"` : "the document"}`,
        example: childExample ? `${missing}: ${childExample}` : example,
      };
    }
    case "additionalProperties": {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((parent?.properties as object | undefined) ?? {});
      const guess = closestMatch(extra, known);
      return {
        path: [...path, extra],
        target: "key",
        problem: `unknown field "${extra}"${guess ? ` (did you mean "${guess}"?)` : ""}`,
        expected: known.length ? `one of ${known.join(", ")}` : "no fields here",
        example: guess ? `${guess}: ${exampleOf((parent?.properties as Record<string, JsonSchema>)[guess]) ?? "…"}` : example,
      };
    }
    case "type":
      return { path, target: "value", problem: `"${field}" is ${shown(value)}`, expected: typeName((error.params as { type: unknown }).type), example };
    case "enum": {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map(inlineYaml);
      const guess = typeof value === "string" ? closestMatch(value, allowed) : undefined;
      return {
        path,
        target: "value",
        problem: `${shown(value)} is not a valid "${field}"${guess ? ` (did you mean ${guess}?)` : ""}`,
        expected: `one of ${allowed.join(" | ")}`,
        example: guess ?? example,
      };
    }
    case "const": {
      const allowed = inlineYaml((error.params as { allowedValue: unknown }).allowedValue);
      return { path, target: "value", problem: `${shown(value)} is not a valid "${field}"`, expected: allowed, example: allowed };
    }
    case "pattern": {
      const pattern = (error.params as { pattern: string }).pattern;
      return { path, target: "value", problem: `${shown(value)} is not a valid "${field}"`, expected: PATTERN_NAMES[pattern] ?? `text matching ${pattern}`, example };
    }
    case "format": {
      const format = (error.params as { format: string }).format;
      return { path, target: "value", problem: `${shown(value)} is not a valid "${field}"`, expected: FORMAT_NAMES[format] ?? format, example };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return { path, target: "value", problem: `${shown(value)} is out of range for "${field}"`, expected: rangeOf(parent), example };
    case "minLength":
      return { path, target: "value", problem: `"${field}" is empty`, expected: "a non-empty string", example };
    case "minItems":
      return { path, target: "value", problem: `"${field}" has too few items`, expected: `at least ${(error.params as { limit: number }).limit}`, example };
    case "oneOf":
      return describeOneOf(path, field, parent, error);
    case "anyOf":
      return { path, target: "value", problem: `${shown(value)} is not a valid "${field}"`, expected: describeAlternatives(parent), example };
    default:
      return { path, target: "value", problem: `"${field}" ${error.message ?? "is invalid"}`, example };
  }
}

function rangeOf(schema: JsonSchema | undefined): string {
  const kind = schema?.type === "integer" ? "a whole number" : "a number";
  const low = schema?.minimum !== undefined ? `from ${schema.minimum}` : schema?.exclusiveMinimum !== undefined ? `greater than ${schema.exclusiveMinimum}` : "";
  const high = schema?.maximum !== undefined ? `to ${schema.maximum}` : "";
  return [kind, low, high].filter(Boolean).join(" ");
}

function describeAlternatives(schema: JsonSchema | undefined): string {
  const formats = ((schema?.anyOf as JsonSchema[] | undefined) ?? []).map((branch) => FORMAT_NAMES[String(branch.format)] ?? JSON.stringify(branch));
  return formats.join(" or ");
}

/** oneOf branches in the CRDs differ only by which field is required: say so. */
function describeOneOf(path: (string | number)[], field: string, schema: JsonSchema | undefined, error: ErrorObject): SchemaIssue {
  const choices = ((schema?.oneOf as JsonSchema[] | undefined) ?? []).flatMap((branch) => (branch.required as string[] | undefined) ?? []);
  const data = (error.data ?? {}) as Record<string, unknown>;
  const present = choices.filter((choice) => data[choice] !== undefined);
  const where = path.length ? `"${field}"` : "the document";
  const alternatives = choices.map((c) => `"${c}"`).join(", ");
  const firstExample = exampleOf((schema?.properties as Record<string, JsonSchema> | undefined)?.[choices[0] ?? ""]);
  const example = firstExample ? `${choices[0]}: ${firstExample}` : undefined;
  if (present.length > 1) {
    return {
      path: [...path, present[1]!],
      target: "key",
      problem: `${present.map((c) => `"${c}"`).join(" and ")} cannot be used together in ${where}`,
      expected: `exactly one of ${alternatives}`,
      example,
    };
  }
  return { path, target: "key", problem: `${where} sets none of ${alternatives}`, expected: `exactly one of ${alternatives}`, example };
}

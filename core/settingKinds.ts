// The kinds of value a setting takes: how a raw value (a string from the environment or a flag, or a TOML
// value) becomes a typed one, as valibot schemas, so the configuration's type is derived from the settings
// table; and what a value of each kind is in the chart's values (JSON Schema, for values.schema.json).
import type { V1Toleration } from "@kubernetes/client-node";
import * as v from "valibot";
import { formatDuration, parseDuration } from "./duration.ts";
import { toError } from "./errors.ts";

/** The part of JSON Schema (draft-07) that the chart's values.schema.json uses for settings. */
export interface JsonSchema {
  type?: "string" | "boolean" | "integer" | "array" | "object";
  $ref?: string;
  description?: string;
  enum?: readonly string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  properties?: Record<string, JsonSchema>;
}

export interface Kind<T> {
  /** How the README's settings table names it. */
  name: string;
  schema: v.GenericSchema<unknown, T>;
  /** A value of this kind in the chart's values (YAML, as Helm hands it to the schema). */
  json: JsonSchema;
}

/** A kind whose conversion throws an Error with the message a user sees. */
function converted<T>(name: string, json: JsonSchema, convert: (raw: unknown) => T): Kind<T> {
  const schema = v.pipe(
    v.unknown(),
    v.rawTransform<unknown, T>(({ dataset, addIssue, NEVER }) => {
      try {
        return convert(dataset.value);
      } catch (err) {
        addIssue({ message: toError(err).message });
        return NEVER;
      }
    }),
  );
  return { name, schema, json };
}

const text = (raw: unknown) => (typeof raw === "string" ? raw : JSON.stringify(raw));

function toBool(raw: unknown): boolean {
  if (typeof raw === "boolean") return raw;
  if (/^(true|1|yes|on)$/i.test(String(raw))) return true;
  if (/^(false|0|no|off)$/i.test(String(raw))) return false;
  throw new Error(`${JSON.stringify(text(raw))} is not a boolean; use true or false`);
}

function toWholeNumber(raw: unknown): number {
  const n = typeof raw === "number" ? raw : /^\s*\d+\s*$/.test(String(raw)) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`"${String(raw)}" is not a whole number >= 0`);
  return n;
}

function toList(raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
  return items.map((s) => s.trim()).filter((s) => s !== "");
}

function toMap(raw: unknown): Record<string, string> {
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
  }
  const map: Record<string, string> = {};
  for (const pair of toList(raw)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`"${pair}" is not key=value`);
    map[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return map;
}

const EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
/** What parseToleration accepts, as a JSON Schema pattern. */
const TOLERATION_PATTERN = `^[^=:]+(=[^:]*)?(:(${EFFECTS.join("|")}))?$`;

/** `key=value:Effect`, `key:Effect`, `key=value` or `key` (Exists). */
export function parseToleration(value: string): V1Toleration {
  const match = /^([^=:]+)(?:=([^:]*))?(?::(\w+))?$/.exec(value);
  if (!match) throw new Error(`"${value}" is not a toleration (key=value:Effect)`);
  const [, key, tolerated, effect] = match;
  if (effect !== undefined && !EFFECTS.includes(effect)) {
    throw new Error(
      `toleration "${value}": effect "${effect}" is not allowed; allowed values: ${EFFECTS.join(", ")}`,
    );
  }
  const toleration: V1Toleration =
    tolerated === undefined
      ? { key: key!, operator: "Exists" }
      : { key: key!, operator: "Equal", value: tolerated };
  if (effect !== undefined) toleration.effect = effect;
  return toleration;
}

/** A whole number of at least `min`. */
function int(min = 0): Kind<number> {
  return converted("int", { type: "integer", minimum: min }, (raw) => {
    const n = toWholeNumber(raw);
    if (n < min) throw new Error(`must be at least ${min}`);
    return n;
  });
}

/** Milliseconds from a Go-style duration; `positive` refuses 0; `min` and `max` bound it. */
function duration(options: { positive?: boolean; min?: number; max?: number } = {}): Kind<number> {
  // the chart's schema defines the duration pattern once, in its $defs
  return converted("duration", { $ref: "#/$defs/duration" }, (raw) => {
    const ms = parseDuration(String(raw));
    if (options.positive && ms <= 0) throw new Error("must be more than 0");
    const { min, max } = options;
    if ((min !== undefined && ms < min) || (max !== undefined && ms > max)) {
      const bounds = [
        min === undefined ? "" : `at least ${formatDuration(min)}`,
        max === undefined ? "" : `at most ${formatDuration(max)}`,
      ];
      throw new Error(`must be ${bounds.filter(Boolean).join(" and ")}`);
    }
    return ms;
  });
}

export const kinds = {
  string: converted("string", { type: "string" }, (raw) => {
    if (typeof raw !== "string") throw new Error(`expected a string, got ${JSON.stringify(raw)}`);
    return raw;
  }),
  url: converted("url", { type: "string", pattern: "^(https?://.+)?$" }, (raw) => {
    const value = String(raw).trim();
    if (value !== "" && !URL.canParse(value)) throw new Error(`"${value}" is not a URL`);
    return value;
  }),
  bool: converted("bool", { type: "boolean" }, toBool),
  int,
  port: converted("port", { type: "integer", minimum: 1, maximum: 65535 }, (raw) => {
    const n = toWholeNumber(raw);
    if (n < 1 || n > 65535) throw new Error(`${n} is not a port (1-65535)`);
    return n;
  }),
  duration,
  list: converted("list", { type: "array", items: { type: "string" } }, toList),
  map: converted("map", { type: "object", additionalProperties: { type: "string" } }, toMap),
  tolerations: converted(
    "tolerations",
    { type: "array", items: { type: "string", pattern: TOLERATION_PATTERN } },
    (raw) => toList(raw).map(parseToleration),
  ),
  oneOf<const V extends readonly [string, ...string[]]>(values: V): Kind<V[number]> {
    return converted(values.join(" \\| "), { type: "string", enum: values }, (raw) => {
      const value = String(raw);
      if (!values.includes(value)) {
        throw new Error(`"${value}" is not allowed; allowed values: ${values.join(", ")}`);
      }
      return value as V[number];
    });
  },
};

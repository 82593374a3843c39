// The kinds of value a setting takes: how a raw value (a string from the environment or a flag, or a TOML
// value) becomes a typed one, as valibot schemas, so the configuration's type is derived from the settings
// table.
import type { V1Toleration } from "@kubernetes/client-node";
import * as v from "valibot";
import { formatDuration, parseDuration } from "./duration.ts";
import { toError } from "./errors.ts";

export interface Kind<T> {
  /** How the README's settings table names it. */
  name: string;
  schema: v.GenericSchema<unknown, T>;
}

/** A kind whose conversion throws an Error with the message a user sees. */
function converted<T>(name: string, convert: (raw: unknown) => T): Kind<T> {
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
  return { name, schema };
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
  return converted("int", (raw) => {
    const n = toWholeNumber(raw);
    if (n < min) throw new Error(`must be at least ${min}`);
    return n;
  });
}

/** Milliseconds from a Go-style duration; `positive` refuses 0; `min` and `max` bound it. */
function duration(options: { positive?: boolean; min?: number; max?: number } = {}): Kind<number> {
  return converted("duration", (raw) => {
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
  string: converted("string", (raw) => {
    if (typeof raw !== "string") throw new Error(`expected a string, got ${JSON.stringify(raw)}`);
    return raw;
  }),
  url: converted("url", (raw) => {
    const value = String(raw).trim();
    if (value !== "" && !URL.canParse(value)) throw new Error(`"${value}" is not a URL`);
    return value;
  }),
  bool: converted("bool", toBool),
  int,
  port: converted("port", (raw) => {
    const n = toWholeNumber(raw);
    if (n < 1 || n > 65535) throw new Error(`${n} is not a port (1-65535)`);
    return n;
  }),
  duration,
  list: converted("list", toList),
  map: converted("map", toMap),
  tolerations: converted("tolerations", (raw) => toList(raw).map(parseToleration)),
  oneOf<const V extends readonly [string, ...string[]]>(values: V): Kind<V[number]> {
    return converted(values.join(" \\| "), (raw) => {
      const value = String(raw);
      if (!values.includes(value)) {
        throw new Error(`"${value}" is not allowed; allowed values: ${values.join(", ")}`);
      }
      return value as V[number];
    });
  },
};

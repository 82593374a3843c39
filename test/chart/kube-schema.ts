// Validates manifests offline against the apiserver's own OpenAPI v3 documents (k8s.io/kubernetes
// api/openapi-spec/v3, from the Go module cache), strictly: unknown fields are errors, as with
// `kubectl apply --validate=strict`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeObject } from "./helm.ts";

interface Schema {
  type?: string;
  format?: string;
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-group-version-kind"?: { group: string; version: string; kind: string }[];
}

interface OpenApiDocument {
  components?: { schemas?: Record<string, Schema> };
}

/** The folder of the per-group-version OpenAPI v3 documents of this Kubernetes version. */
export function openApiDir(kubeVersion: string): string {
  const relative = join(`k8s.io/kubernetes@${kubeVersion}`, "api/openapi-spec/v3");
  const modCache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  const cached = join(modCache, relative);
  if (existsSync(cached)) return cached;
  // Not built yet on this machine: fetch the module through the Go module proxy.
  const scratch = mkdtempSync(join(tmpdir(), "sfo-gomod-"));
  const info = JSON.parse(
    execFileSync("go", ["mod", "download", "-json", `k8s.io/kubernetes@${kubeVersion}`], {
      cwd: scratch,
      encoding: "utf8",
      env: { ...process.env, GOFLAGS: "-mod=mod" },
    }),
  ) as { Dir?: string; Error?: string };
  if (!info.Dir)
    throw new Error(`go mod download k8s.io/kubernetes@${kubeVersion}: ${info.Error ?? "no Dir"}`);
  return join(info.Dir, "api/openapi-spec/v3");
}

export class KubeSchemas {
  readonly #dir: string;
  readonly #documents = new Map<string, OpenApiDocument>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** True when the apiserver serves this apiVersion/kind (built-in types only, not CRDs). */
  knows(apiVersion: string, kind: string): boolean {
    return this.#find(apiVersion, kind) !== undefined;
  }

  /** Every problem of this object, as `path: message`; empty when it is valid. */
  validate(object: KubeObject): string[] {
    const found = this.#find(object.apiVersion, object.kind);
    if (!found) return [`no schema for ${object.apiVersion} ${object.kind}`];
    const problems: string[] = [];
    check(found.document, found.schema, object, object.kind, problems);
    return problems;
  }

  #find(apiVersion: string, kind: string): { document: OpenApiDocument; schema: Schema } | undefined {
    const document = this.#document(apiVersion);
    if (!document) return undefined;
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    for (const schema of Object.values(document.components?.schemas ?? {})) {
      const gvks = schema["x-kubernetes-group-version-kind"] ?? [];
      if (gvks.some((g) => g.group === group && g.version === version && g.kind === kind)) {
        return { document, schema };
      }
    }
    return undefined;
  }

  #document(apiVersion: string): OpenApiDocument | undefined {
    const file = apiVersion.includes("/")
      ? `apis__${apiVersion.replace("/", "__")}_openapi.json`
      : `api__${apiVersion}_openapi.json`;
    if (!this.#documents.has(file)) {
      const path = join(this.#dir, file);
      if (!existsSync(path)) return undefined;
      this.#documents.set(file, JSON.parse(readFileSync(path, "utf8")) as OpenApiDocument);
    }
    return this.#documents.get(file);
  }
}

function resolve(document: OpenApiDocument, ref: string): Schema {
  const name = ref.replace("#/components/schemas/", "");
  const schema = document.components?.schemas?.[name];
  if (!schema) throw new Error(`unresolved $ref ${ref}`);
  return schema;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function check(document: OpenApiDocument, schema: Schema, value: unknown, path: string, out: string[]): void {
  if (schema.$ref) check(document, resolve(document, schema.$ref), value, path, out);
  for (const part of schema.allOf ?? []) check(document, part, value, path, out);
  if (schema.oneOf) {
    const matches = schema.oneOf.filter((option) => {
      const problems: string[] = [];
      check(document, option, value, path, problems);
      return problems.length === 0;
    });
    if (matches.length !== 1) out.push(`${path}: ${JSON.stringify(value)} matches none of the allowed types`);
  }
  if (schema.type === undefined) return;

  const actual = typeOf(value);
  const fits = actual === schema.type || (schema.type === "number" && actual === "integer");
  if (!fits) {
    out.push(`${path}: expected ${schema.type}, got ${actual} ${JSON.stringify(value)}`);
    return;
  }
  switch (schema.type) {
    case "object": {
      const object = value as Record<string, unknown>;
      for (const key of schema.required ?? []) {
        if (!(key in object)) out.push(`${path}: missing required field "${key}"`);
      }
      const freeForm =
        schema["x-kubernetes-preserve-unknown-fields"] === true ||
        schema.additionalProperties === true ||
        (schema.properties === undefined && schema.additionalProperties === undefined);
      for (const [key, child] of Object.entries(object)) {
        const childPath = `${path}.${key}`;
        const property = schema.properties?.[key];
        if (property) check(document, property, child, childPath, out);
        else if (typeof schema.additionalProperties === "object")
          check(document, schema.additionalProperties, child, childPath, out);
        else if (!freeForm) out.push(`${childPath}: unknown field`);
      }
      break;
    }
    case "array":
      (value as unknown[]).forEach((item, i) => {
        if (schema.items) check(document, schema.items, item, `${path}[${i}]`, out);
      });
      break;
    case "integer":
      if (schema.format === "int32" && Math.abs(value as number) > 2 ** 31 - 1)
        out.push(`${path}: ${String(value)} is out of the int32 range`);
      break;
    case "string":
      if (schema.format === "byte" && !/^[A-Za-z0-9+/]*={0,2}$/.test(value as string))
        out.push(`${path}: not base64`);
      break;
  }
}

/** Checks the apiserver makes beyond the OpenAPI schema, for the fields this chart sets. */
export function apiserverChecks(object: KubeObject): string[] {
  const problems: string[] = [];
  const dnsLabel = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
  const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const name = object.metadata.name;
  if (object.kind === "Service") {
    if (!dnsLabel.test(name) || name.length > 63)
      problems.push(`Service name "${name}" is not a DNS-1035 label`);
  } else if (!dnsSubdomain.test(name) || name.length > 253) {
    problems.push(`${object.kind} name "${name}" is not a DNS-1123 subdomain`);
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (value.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value))
      problems.push(`label ${key}="${value}" is not a valid label value`);
  }
  const portName = /^(?=.{1,15}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
  const collectPorts = (ports: unknown): void => {
    for (const port of (ports as { name?: string }[] | undefined) ?? []) {
      if (port.name !== undefined && !(portName.test(port.name) && /[a-z]/.test(port.name)))
        problems.push(`port name "${port.name}" is not an IANA_SVC_NAME`);
    }
  };
  const spec = object.spec as Record<string, unknown> | undefined;
  if (object.kind === "Service") collectPorts(spec?.ports);
  if (object.kind === "Deployment") {
    const podSpec = (spec?.template as { spec?: { containers?: { ports?: unknown }[] } } | undefined)?.spec;
    for (const container of podSpec?.containers ?? []) collectPorts(container.ports);
  }
  return problems;
}

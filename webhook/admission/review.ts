// The AdmissionReview wire format: reading a request, and building responses the way controller-runtime's
// response.go does (allowed / denied / patched / errored, then complete() copies the request uid).
import type { Operation } from "fast-json-patch";
import * as v from "valibot";
import { issueText, jsonObject, strippedJsonObject } from "./jsonShape.ts";

export const SUPPORTED_VERSIONS = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const;
type ReviewVersion = (typeof SUPPORTED_VERSIONS)[number];

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  object?: Record<string, unknown> | null;
  oldObject?: Record<string, unknown> | null;
  dryRun?: boolean;
  options?: unknown;
}

const groupVersionKind = strippedJsonObject({ group: v.string(), version: v.string(), kind: v.string() });

const requestSchema = jsonObject({
  uid: v.pipe(v.string(), v.minLength(1)),
  kind: groupVersionKind,
  resource: v.optional(strippedJsonObject({ group: v.string(), version: v.string(), resource: v.string() })),
  subResource: v.optional(v.string()),
  name: v.optional(v.string()),
  namespace: v.optional(v.string()),
  operation: v.picklist(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
  userInfo: v.optional(
    jsonObject({ username: v.optional(v.string()), groups: v.optional(v.array(v.string())) }),
  ),
  object: v.nullish(jsonObject({})),
  oldObject: v.nullish(jsonObject({})),
  dryRun: v.optional(v.boolean()),
});

const reviewSchema = strippedJsonObject({
  apiVersion: v.picklist(SUPPORTED_VERSIONS),
  kind: v.literal("AdmissionReview"),
  request: requestSchema,
});

export type ParsedReview =
  { ok: true; review: AdmissionReview } | { ok: false; message: string; apiVersion: string; uid: string };

/** Checks a decoded body is an AdmissionReview we can answer; the message names every bad field. */
export function parseReview(body: unknown): ParsedReview {
  const result = v.safeParse(reviewSchema, body);
  if (result.success) return { ok: true, review: result.output as AdmissionReview };
  const raw = (body ?? {}) as { apiVersion?: unknown; request?: { uid?: unknown } };
  return {
    ok: false,
    message: result.issues.map((issue) => issueText(issue)).join("; "),
    apiVersion: typeof raw.apiVersion === "string" ? raw.apiVersion : SUPPORTED_VERSIONS[0],
    uid: typeof raw.request?.uid === "string" ? raw.request.uid : "",
  };
}

/** The request is not something the apiserver would send: answered with HTTP 400. */
export class BadReviewError extends Error {
  override readonly name = "BadReviewError";
}

interface Status {
  code: number;
  message?: string;
  reason?: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
}

interface AdmissionReview {
  apiVersion: ReviewVersion;
  kind: "AdmissionReview";
  request: AdmissionRequest;
}

export function allowed(message?: string, warnings: string[] = []): Omit<AdmissionResponse, "uid"> {
  return withWarnings({ allowed: true, status: { code: 200, ...(message ? { message } : {}) } }, warnings);
}

/** A policy denial; `Invalid` (422) for a value outside the contract, `Forbidden` (403) otherwise. */
export function denied(
  message: string,
  reason: "Forbidden" | "Invalid" = "Forbidden",
  warnings: string[] = [],
): Omit<AdmissionResponse, "uid"> {
  const code = reason === "Invalid" ? 422 : 403;
  return withWarnings({ allowed: false, status: { code, reason, message } }, warnings);
}

/** Allowed, with the JSON patch that turns the request object into the wanted one; no patch when empty. */
export function patched(ops: Operation[], warnings: string[] = []): Omit<AdmissionResponse, "uid"> {
  if (ops.length === 0) return allowed(undefined, warnings);
  return {
    ...allowed(undefined, warnings),
    patchType: "JSONPatch",
    patch: Buffer.from(JSON.stringify(ops)).toString("base64"),
  };
}

export function errored(code: number, message: string): Omit<AdmissionResponse, "uid"> {
  return { allowed: false, status: { code, message } };
}

/** Fills in what every response needs: the request uid, and a status code. */
export function complete(response: Omit<AdmissionResponse, "uid">, uid: string): AdmissionResponse {
  return { uid, ...response, status: response.status ?? { code: 200 } };
}

export function reviewOf(apiVersion: string, response: AdmissionResponse) {
  return { apiVersion, kind: "AdmissionReview", response };
}

type Answer = Omit<AdmissionResponse, "uid">;

function withWarnings(response: Answer, warnings: string[]): Answer {
  return warnings.length > 0 ? { ...response, warnings } : response;
}

// The admission request handler (no listening here): POST /mutate and POST /validate, with the request checks
// of controller-runtime's http.go. Every answer, error or not, is an AdmissionReview in JSON. Plain node:http:
// two routes need no framework, and each request costs only what admission itself needs.
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { OptInScope } from "../core/contract.ts";
import type { PlacementConfig } from "../core/placement.ts";
import type { Logger } from "../core/log.ts";
import { toError } from "../core/errors.ts";
import { mutate } from "./admission/mutate.ts";
import { validate } from "./admission/validate.ts";
import {
  BadReviewError,
  complete,
  errored,
  parseReview,
  reviewOf,
  SUPPORTED_VERSIONS,
  type AdmissionRequest,
  type AdmissionResponse,
} from "./admission/review.ts";
import type { Endpoint, RequestResult, WebhookMetrics } from "./metrics.ts";
import { readRequestBody } from "./requestBody.ts";

const MAX_BODY_BYTES = 7 * 1024 * 1024;

export interface AppOptions {
  placement: PlacementConfig;
  orchestratorUsername: string;
  optIn: OptInScope;
  log: Logger;
  metrics: WebhookMetrics;
  now?: () => Date;
}

type Handler = (request: AdmissionRequest) => Omit<AdmissionResponse, "uid">;

interface Answer {
  status: number;
  body: unknown;
  result: RequestResult;
}

export function createApp(options: AppOptions): RequestListener {
  const { metrics, orchestratorUsername, optIn, log } = options;
  const handlers: Record<Endpoint, Handler> = {
    mutate: (request) => {
      const { compute, applyGuard, ...response } = mutate(request, options);
      if (response.patch !== undefined && compute !== undefined) metrics.patches.inc({ compute });
      if (applyGuard !== undefined) metrics.applyGuard.inc({ action: applyGuard });
      return response;
    },
    validate: (request) => {
      const { causes, ...response } = validate(request, { orchestratorUsername, optIn });
      for (const cause of causes ?? []) metrics.denials.inc({ cause });
      return response;
    },
  };
  const observe = observer(metrics);

  return (req, res) => {
    const endpoint = endpointOf(req);
    if (endpoint === undefined) {
      const message = `no handler for ${req.method} ${pathOf(req.url)}; use POST /mutate or /validate`;
      return send(res, { status: 404, body: { message }, result: "bad_request" });
    }
    const start = performance.now();
    readRequestBody(req, MAX_BODY_BYTES)
      .then((body) => {
        if (!body.ok) log.warn({ status: body.status, reason: body.message }, "rejected admission request");
        return body.ok ? admit(body.body, handlers[endpoint], log) : errorAnswer(body.status, body.message);
      })
      .catch((err: unknown) => {
        log.error({ err: toError(err) }, "admission request failed");
        return errorAnswer(500, "internal error while handling the admission request");
      })
      .then((answer) => {
        if (res.destroyed) return;
        send(res, answer);
        observe(endpoint, answer.result, start);
      });
  };
}

function endpointOf(req: IncomingMessage): Endpoint | undefined {
  if (req.method !== "POST") return undefined;
  const path = pathOf(req.url);
  return path === "/mutate" ? "mutate" : path === "/validate" ? "validate" : undefined;
}

function pathOf(url: string | undefined): string {
  const query = url?.indexOf("?") ?? -1;
  return (query === -1 ? url : url!.slice(0, query)) || "/";
}

function admit(raw: Buffer, handler: Handler, log: Logger): Answer {
  let decoded: unknown;
  try {
    decoded = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    return errorAnswer(400, `request body is not valid JSON: ${toError(err).message}`);
  }
  const parsed = parseReview(decoded);
  if (!parsed.ok) return errorAnswer(400, parsed.message, parsed.apiVersion, parsed.uid);

  const { apiVersion, request } = parsed.review;
  const { uid } = request;
  let response: AdmissionResponse;
  try {
    response = complete(handler(request), uid);
  } catch (err) {
    if (err instanceof BadReviewError) return errorAnswer(400, err.message, apiVersion, uid);
    requestLog(log, request).error({ err }, "admission handler failed");
    return errorAnswer(500, "internal error while handling the admission request", apiVersion, uid);
  }
  const result = !response.allowed ? "denied" : response.patch !== undefined ? "patched" : "allowed";
  const level = response.allowed && response.warnings === undefined ? "debug" : "info";
  // a child logger costs a serialization of its fields: made only when the line is written
  if (log.isLevelEnabled(level)) {
    requestLog(log, request)[level](
      {
        operation: request.operation,
        allowed: response.allowed,
        status: response.status,
        warnings: response.warnings,
      },
      "admission request answered",
    );
  }
  return { status: 200, body: reviewOf(apiVersion, response), result };
}

function requestLog(log: Logger, request: AdmissionRequest): Logger {
  const { uid, namespace, name } = request;
  return log.child({ uid, namespace, name, user: request.userInfo?.username });
}

function errorAnswer(
  code: number,
  message: string,
  apiVersion: string = SUPPORTED_VERSIONS[0],
  uid = "",
): Answer {
  const result = code >= 500 ? "error" : "bad_request";
  return { status: code, body: reviewOf(apiVersion, complete(errored(code, message), uid)), result };
}

function send(res: ServerResponse, answer: Answer): void {
  const text = JSON.stringify(answer.body);
  res
    .writeHead(answer.status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    })
    .end(text);
}

/** Counts and times a request; the label children are made once per label set. */
function observer(metrics: WebhookMetrics) {
  const durations = {
    mutate: metrics.duration.labels({ endpoint: "mutate" }),
    validate: metrics.duration.labels({ endpoint: "validate" }),
  };
  const counters = new Map<string, ReturnType<WebhookMetrics["requests"]["labels"]>>();
  return (endpoint: Endpoint, result: RequestResult, start: number) => {
    const key = `${endpoint}/${result}`;
    let counter = counters.get(key);
    if (counter === undefined) counters.set(key, (counter = metrics.requests.labels({ endpoint, result })));
    counter.inc();
    durations[endpoint].observe((performance.now() - start) / 1000);
  };
}

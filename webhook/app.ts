// The admission HTTP app (no listening here): POST /mutate and POST /validate, with the request checks of
// controller-runtime's http.go. Every answer, error or not, is an AdmissionReview in JSON.
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from "express";
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

const MAX_BODY_BYTES = 7 * 1024 * 1024;

export interface AppOptions {
  placement: PlacementConfig;
  orchestratorUsername: string;
  log: Logger;
  metrics: WebhookMetrics;
  now?: () => Date;
}

type Handler = (request: AdmissionRequest) => Omit<AdmissionResponse, "uid">;

export function createApp(options: AppOptions): Express {
  const { metrics, orchestratorUsername } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  const mutateHandler: Handler = (request) => {
    const { compute, applyGuard, ...response } = mutate(request, options);
    if (response.patch !== undefined && compute !== undefined) metrics.patches.inc({ compute });
    if (applyGuard !== undefined) metrics.applyGuard.inc({ action: applyGuard });
    return response;
  };
  const validateHandler: Handler = (request) => {
    const { causes, ...response } = validate(request, { orchestratorUsername });
    for (const cause of causes ?? []) metrics.denials.inc({ cause });
    return response;
  };

  const body = [checkBody, express.raw({ type: "application/json", limit: MAX_BODY_BYTES })];
  app.post("/mutate", measure(metrics, "mutate"), ...body, admit(options.log, mutateHandler));
  app.post("/validate", measure(metrics, "validate"), ...body, admit(options.log, validateHandler));
  app.use((req, res) => {
    res
      .status(404)
      .json({ message: `no handler for ${req.method} ${req.path}; use POST /mutate or /validate` });
  });
  app.use(errorHandler(options.log));
  return app;
}

function measure(metrics: WebhookMetrics, endpoint: Endpoint): RequestHandler {
  return (_req, res, next) => {
    const start = performance.now();
    res.on("finish", () => {
      const result: RequestResult =
        res.statusCode >= 500
          ? "error"
          : res.statusCode >= 400
            ? "bad_request"
            : ((res.locals["result"] as RequestResult | undefined) ?? "allowed");
      metrics.requests.inc({ endpoint, result });
      metrics.duration.observe({ endpoint }, (performance.now() - start) / 1000);
    });
    next();
  };
}

const checkBody: RequestHandler = (req, res, next) => {
  const type = req.is("application/json");
  if (type === null || req.headers["content-length"] === "0")
    return sendError(res, 400, "request body is empty");
  if (type === false) {
    const received = req.headers["content-type"] ?? "none";
    return sendError(res, 415, `content type ${received} is not supported; expected application/json`);
  }
  next();
};

function admit(log: Logger, handler: Handler): RequestHandler {
  return (req, res) => {
    const raw: unknown = req.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return sendError(res, 400, "request body is empty");
    let decoded: unknown;
    try {
      decoded = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      return sendError(res, 400, `request body is not valid JSON: ${toError(err).message}`);
    }
    const parsed = parseReview(decoded);
    if (!parsed.ok) return sendError(res, 400, parsed.message, parsed.apiVersion, parsed.uid);

    const { apiVersion, request } = parsed.review;
    const { uid, namespace, name } = request;
    const reqLog = log.child({ uid, namespace, name, user: request.userInfo?.username });
    let response: AdmissionResponse;
    try {
      response = complete(handler(request), uid);
    } catch (err) {
      if (err instanceof BadReviewError) return sendError(res, 400, err.message, apiVersion, uid);
      reqLog.error({ err }, "admission handler failed");
      return sendError(res, 500, "internal error while handling the admission request", apiVersion, uid);
    }
    res.locals["result"] = !response.allowed
      ? "denied"
      : response.patch !== undefined
        ? "patched"
        : "allowed";
    const level = response.allowed && response.warnings === undefined ? "debug" : "info";
    reqLog[level](
      {
        operation: request.operation,
        allowed: response.allowed,
        status: response.status,
        warnings: response.warnings,
      },
      "admission request answered",
    );
    res.json(reviewOf(apiVersion, response));
  };
}

function sendError(
  res: Response,
  code: number,
  message: string,
  apiVersion: string = SUPPORTED_VERSIONS[0],
  uid = "",
): void {
  res.status(code).json(reviewOf(apiVersion, complete(errored(code, message), uid)));
}

/** Body-parser failures (too large, bad encoding, aborted) keep their 4xx code; anything else is a 500. */
function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const error = toError(err);
    const status = (err as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      const message =
        status === 413 ? `request body is larger than the ${MAX_BODY_BYTES} byte limit` : error.message;
      log.warn({ status, reason: message }, "rejected admission request");
      return sendError(res, status, message);
    }
    log.error({ err: error }, "admission request failed");
    sendError(res, 500, "internal error while handling the admission request");
  };
}

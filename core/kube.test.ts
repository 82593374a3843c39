import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { PermanentError, RetryableError } from "./errors.ts";
import { classify, statusOf } from "./kube.ts";

const answered = (code: number) => new ApiException(code, `HTTP ${code}`, {}, {});

describe("classify", () => {
  it.each([
    [404, PermanentError, "not-found"],
    [422, PermanentError, "invalid"],
    [400, PermanentError, "invalid"],
    [409, RetryableError, undefined],
    [429, RetryableError, undefined],
    [403, RetryableError, undefined],
    [500, RetryableError, undefined],
    [503, RetryableError, undefined],
  ])("sorts HTTP %d as %o", (code, kind, permanentKind) => {
    const error = classify(answered(code), "patch deployment shop/web");
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toBe(`patch deployment shop/web: HTTP ${code}`);
    if (error instanceof PermanentError) expect(error.kind).toBe(permanentKind);
  });

  it("keeps the HTTP status, so whoever logs or decides on it later still has it", () => {
    for (const code of [404, 409, 503]) {
      const error = classify(answered(code), "read deployment shop/web");
      expect(statusOf(error)).toBe(code);
      expect(statusOf(error)).toBe(statusOf(answered(code)));
    }
  });

  it("takes an unreachable apiserver for retryable, without a status", () => {
    const error = classify(new TypeError("fetch failed"), "list pods");
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe("list pods: fetch failed");
    expect(statusOf(error)).toBeUndefined();
  });
});

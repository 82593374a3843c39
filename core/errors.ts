// Two error kinds drive the SQS loop: a retryable one leaves the message to come back,
// a permanent one is counted and the message deleted. Both carry the HTTP status that caused them, if any.

export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === "string" ? value : JSON.stringify(value));
}

export interface ClassifiedErrorOptions extends ErrorOptions {
  /** HTTP status of the answer that caused it, when a server answered. */
  status?: number | undefined;
}

export class RetryableError extends Error {
  override readonly name = "RetryableError";
  readonly status: number | undefined;
  constructor(message: string, options?: ClassifiedErrorOptions) {
    super(message, options);
    this.status = options?.status;
  }
}

export class PermanentError extends Error {
  override readonly name = "PermanentError";
  /** Short, stable label for metrics (e.g. "unparseable", "unknown-type", "foreign-instance"). */
  readonly kind: string;
  readonly status: number | undefined;
  constructor(kind: string, message: string, options?: ClassifiedErrorOptions) {
    super(message, options);
    this.kind = kind;
    this.status = options?.status;
  }
}

// Two error kinds drive the SQS loop: a retryable one leaves the message to come back,
// a permanent one is counted and the message deleted.

export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === "string" ? value : JSON.stringify(value));
}

export class RetryableError extends Error {
  override readonly name = "RetryableError";
}

export class PermanentError extends Error {
  override readonly name = "PermanentError";
  /** Short, stable label for metrics (e.g. "unparseable", "unknown-type", "foreign-instance"). */
  readonly kind: string;
  constructor(kind: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}

// Times written into annotations and events: RFC 3339 at second precision, as Kubernetes and EventBridge
// write them (2024-05-01T12:00:00Z), so every time the orchestrator records reads and compares alike.

export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Milliseconds since the epoch of an RFC 3339 time; undefined when absent or not a time. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

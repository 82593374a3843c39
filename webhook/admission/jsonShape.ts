// Schemas for the JSON the apiserver sends, and how a failed check reads in a 400 answer.
import * as v from "valibot";

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

// valibot's object and record schemas take an array as an object; JSON objects here never are one.
const JSON_OBJECT = v.custom<Record<string, unknown>>(
  isJsonObject,
  (issue) => `Invalid type: Expected Object but received ${issue.received}`,
);

/** A JSON object with these fields checked; other fields pass through. */
export function jsonObject<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(JSON_OBJECT, v.looseObject(entries));
}

/** A JSON object with these fields checked; other fields are left out of the output. */
export function strippedJsonObject<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(JSON_OBJECT, v.object(entries));
}

/**
 * A JSON object whose every value is a `value`, such as annotations. Not `v.record`, which leaves keys named
 * `constructor` or `prototype` unchecked, and those are valid Kubernetes keys.
 */
export function jsonMap(value: v.GenericSchema) {
  return v.pipe(
    JSON_OBJECT,
    v.rawCheck<Record<string, unknown>>(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      for (const [key, item] of Object.entries(dataset.value)) {
        if (key === "__proto__") continue; // JSON.parse makes it an own key; no object here has one
        const result = v.safeParse(value, item);
        if (result.success) continue;
        const path = { type: "object", origin: "value", input: dataset.value, key, value: item } as const;
        for (const issue of result.issues)
          addIssue({ message: issue.message, path: [path, ...(issue.path ?? [])] });
      }
    }),
  );
}

/** `request.object.metadata: Invalid type: …`: the field's dot path under `base` (or "body"), then why. */
export function issueText(issue: v.BaseIssue<unknown>, base = ""): string {
  const path = [base, v.getDotPath(issue) ?? ""].filter((part) => part !== "").join(".");
  return `${path || "body"}: ${issue.message}`;
}

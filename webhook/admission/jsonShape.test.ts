import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { issueText, jsonMap, jsonObject, strippedJsonObject } from "./jsonShape.ts";

/** What a schema makes of a value decoded from JSON: its output, or the text of each bad field. */
function check(schema: v.GenericSchema, json: string, base = "") {
  const result = v.safeParse(schema, JSON.parse(json));
  return result.success ? result.output : result.issues.map((issue) => issueText(issue, base));
}

describe("jsonObject", () => {
  const shape = jsonObject({ name: v.string(), port: v.optional(v.number()) });

  it.each([
    ['{"name": "a"}', { name: "a" }],
    ['{"name": "a", "port": 80, "other": [1]}', { name: "a", port: 80, other: [1] }],
    [
      '{"port": "80"}',
      [
        'name: Invalid key: Expected "name" but received undefined',
        'port: Invalid type: Expected number but received "80"',
      ],
    ],
    ["[]", ["body: Invalid type: Expected Object but received Array"]],
    ['["a"]', ["body: Invalid type: Expected Object but received Array"]],
    ["null", ["body: Invalid type: Expected Object but received null"]],
    ['"a"', ['body: Invalid type: Expected Object but received "a"']],
  ])("%s", (json, expected) => {
    expect(check(shape, json)).toEqual(expected);
  });

  it("names a nested field under the base path", () => {
    const outer = jsonObject({ spec: jsonObject({ items: v.array(shape) }) });
    expect(check(outer, '{"spec": {"items": [{"name": "a"}, {"name": 1}]}}', "request.object")).toEqual([
      "request.object.spec.items.1.name: Invalid type: Expected string but received 1",
    ]);
  });

  it("strippedJsonObject leaves other fields out", () => {
    expect(check(strippedJsonObject({ kind: v.string() }), '{"kind": "a", "other": 1}')).toEqual({
      kind: "a",
    });
  });
});

describe("jsonMap", () => {
  const labels = jsonMap(v.string());

  it.each([
    ["{}", {}],
    [
      '{"app": "web", "constructor": "x", "prototype": "y"}',
      { app: "web", constructor: "x", prototype: "y" },
    ],
    ['{"app": 1}', ["app: Invalid type: Expected string but received 1"]],
    // keys that valibot's own record schema would skip
    ['{"constructor": 1}', ["constructor: Invalid type: Expected string but received 1"]],
    ['{"prototype": ["x"]}', ["prototype: Invalid type: Expected string but received Array"]],
    [
      '{"a": 1, "b": "ok", "c": null}',
      [
        "a: Invalid type: Expected string but received 1",
        "c: Invalid type: Expected string but received null",
      ],
    ],
    ['["web"]', ["body: Invalid type: Expected Object but received Array"]],
    ['"app=web"', ['body: Invalid type: Expected Object but received "app=web"']],
  ])("%s", (json, expected) => {
    expect(check(labels, json)).toEqual(expected);
  });

  it("checks each value with its schema", () => {
    const quantities = jsonMap(v.union([v.string(), v.number()]));
    expect(check(quantities, '{"cpu": "500m", "memory": 1024}')).toEqual({ cpu: "500m", memory: 1024 });
    expect(check(quantities, '{"cpu": true}', "limits")).toEqual([
      "limits.cpu: Invalid type: Expected (string | number) but received true",
    ]);
  });
});

import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "coverage/", ".cluster/", ".bench/", "charts/", "deploy/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
    },
  },
  {
    // the local environment, the demo and the benchmarks run without the test runner
    files: ["harness/**/*.ts", "demo/**/*.ts", "bench/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/test/**"], message: "test/ holds tests only: move what is shared to harness/." },
            {
              group: ["vitest", "vitest/*"],
              message: "harness/, demo/ and bench/ run without the test runner.",
            },
          ],
        },
      ],
    },
  },
);

// ESLint 9 flat config: typescript-eslint with type information for TypeScript, plain rules for
// the .js/.mjs files. `npm run lint` runs it; `.ci/run` runs it after `npm ci`.
//
// TypeScript 7 (the `typescript` package, which owns `tsc`) ships no JavaScript compiler API, and
// typescript-eslint 8 needs one (it throws on TS 7; typescript-eslint issue #10940). So the TS 6
// API is installed beside it as the dev dependency `typescript6` (npm:typescript@6.x), and the
// `require("typescript")` calls made by typescript-eslint's own packages are pointed at it here,
// before typescript-eslint loads. Nothing else sees TS 6: `tsc`, Next and the tests keep TS 7.
// Drop the hook and the alias once typescript-eslint supports TS 7.
import Module, { createRequire } from "node:module";
import { defineConfig } from "eslint/config";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ts6Dir = path.dirname(require.resolve("typescript6/package.json"));
const usesTsApi = /[\\/]node_modules[\\/](?:typescript-eslint|@typescript-eslint[\\/][^\\/]+|ts-api-utils)[\\/]/;
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if ((request === "typescript" || request.startsWith("typescript/")) && usesTsApi.test(parent?.filename ?? "")) {
    request = ts6Dir + request.slice("typescript".length);
  }
  return resolveFilename.call(this, request, parent, ...rest);
};

const { default: js } = await import("@eslint/js");
const { default: globals } = await import("globals");
const { default: tseslint } = await import("typescript-eslint");

export default defineConfig(
  {
    ignores: [
      "lib/db/generated/**",
      "lib/formats/savedmodel/op-tables.generated.ts",
      "node_modules/**",
      ".next/**",
      ".data/**",
      ".tmp/**",
      ".scratch/**",
      "test-results/**",
      "playwright-report/**",
      "next-env.d.ts",
    ],
  },
  js.configs.recommended,
  {
    // `try { ... } catch {}`: a failure that does not matter, on purpose.
    rules: { "no-empty": ["error", { allowEmptyCatch: true }] },
  },
  {
    files: ["**/*.{ts,tsx}"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      // node:test's test()/describe() return promises that the runner itself awaits.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/consistent-type-imports": [
        "error",
        { fixStyle: "inline-type-imports", disallowTypeAnnotations: false },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
      // React's onSubmit/onClick accept async handlers; a promise passed where a value is tested is still caught.
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { attributes: false } }],
      // Lists in messages read as "a,b": allowed, as numbers and booleans are by default.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowArray: true }],
      // Off from the recommended set: each would need many hand edits for little gain here. The
      // no-unsafe-* family flags `any` from JSON.parse/res.json() that zod checks at the boundary;
      // require-await flags handlers that Next, NextAuth and interfaces require to be async.
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/require-await": "off",
      // Module-level handles assigned during start-up and read by shutdown closures declared before.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // node:test's mock.method() and assert's methods are passed around unbound on purpose. The
    // reference TF.js models in tests and benches narrow tf's generic results with `as tf.Tensor4D`.
    files: ["test/**/*.{ts,tsx}", "bench/**/*.ts"],
    rules: { "@typescript-eslint/unbound-method": "off", "@typescript-eslint/no-unnecessary-type-assertion": "off" },
  },
  {
    files: ["**/*.{js,mjs,cjs}"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
);

// The catalogue in a real browser: a publisher uploads a model with the progress bar and sees its
// validation result; after approval anyone finds it by search and facets, opens its page (signatures,
// pinned snippets, charts, sanitised markdown) and copies a snippet to the clipboard.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { test, expect, type Page, type Browser } from "@playwright/test";
import { startE2EStack, type E2EStack } from "../helpers/e2e-stack.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { packTarGz } from "../../lib/archive/pack.ts";

const SHOTS = path.resolve("test-results/screenshots");
let stack: E2EStack;
let tmp: string;
let matmulArchive: string;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-e2e-cat-"));
  const dir = fixturePath("tfjs-graph-model-matmul");
  matmulArchive = path.join(tmp, "matmul.tar.gz");
  await pipeline(
    packTarGz(
      ["model.json", "weights.bin"].map((p) => ({
        path: p,
        size: fs.statSync(path.join(dir, p)).size,
        open: () => fs.createReadStream(path.join(dir, p)),
      })),
    ),
    fs.createWriteStream(matmulArchive),
  );
  stack = await startE2EStack();
});

test.afterAll(async () => {
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function signIn(browser: Browser, email: string, password: string): Promise<Page> {
  const context = await browser.newContext({ colorScheme: "light" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: stack.base });
  const page = await context.newPage();
  await page.goto(`${stack.base}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(`${stack.base}/`);
  return page;
}

async function shot(page: Page, name: string, dark = false) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  if (dark) {
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
  }
}

test("upload with progress, approval, search, model page and copying a snippet", async ({ browser }) => {
  const admin = await signIn(browser, stack.admin.email, stack.admin.password);
  const api = (method: "post" | "patch", url: string, data: unknown) =>
    admin.request.fetch(`${stack.base}${url}`, { method, data, headers: { origin: stack.base } });
  const created = await api("post", "/api/v1/users", {
    email: "pub@example.com",
    role: "publisher",
    password: "publisher-password-1",
  });
  expect(created.status()).toBe(201);
  expect(
    (await api("patch", `/api/v1/users/${(await created.json()).id}`, { namespaces: ["internal/vision/*"] })).status(),
  ).toBe(200);

  // A publisher uploads a TF.js model through the page: progress bar, then the validation result.
  const pub = await signIn(browser, "pub@example.com", "publisher-password-1");
  await pub.getByRole("link", { name: "Upload" }).click();
  await expect(pub.getByLabel("Handle")).toHaveValue("internal/vision/");
  await pub.getByLabel("Handle").fill("internal/vision/matmul");
  await pub.getByTestId("file-input").setInputFiles(matmulArchive);
  await expect(pub.getByText("matmul.tar.gz")).toBeVisible();
  await pub.getByRole("button", { name: "Upload", exact: true }).click();
  await expect(pub.getByTestId("upload-progress")).toBeVisible();
  await expect(pub.getByTestId("upload-progress")).toHaveAttribute("value", "100");
  await expect(pub.getByTestId("upload-status")).toHaveText("validated", { timeout: 120_000 });
  await expect(pub.getByTestId("upload-result")).toContainText("level executed");
  await expect(pub.getByTestId("upload-result")).toContainText("p50");
  await shot(pub, "20-upload", true);
  // Outside the namespace: the server's refusal is shown as it is.
  await pub.getByLabel("Handle").fill("internal/audio/matmul");
  await pub.getByRole("button", { name: "Upload", exact: true }).click();
  await expect(pub.locator(".flash-error")).toContainText("403: this needs the publish");

  // A SavedModel by the API, then metadata with markdown, including things that must stay inert.
  const hpt = fs.readFileSync(fixturePath("hub-half_plus_two_v1_targz", "half_plus_two_v1.tar.gz"));
  const put = await admin.request.fetch(`${stack.base}/api/v1/models/internal/vision/half_plus_two/versions/1`, {
    method: "PUT",
    data: hpt,
    headers: { origin: stack.base, "content-type": "application/gzip" },
  });
  expect(put.status()).toBe(201);
  expect(
    (
      await api("patch", "/api/v1/models/internal/vision/half_plus_two", {
        title: "Half plus two",
        description:
          '## Half plus two\n\nComputes **0.5 x + 2**. Fine-tuned by the vision team.\n\n<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">\n\n[a link](javascript:window.pwned=3)',
        task: "regression",
        tags: ["demo", "tf1"],
        license: "Apache-2.0",
      })
    ).status(),
  ).toBe(200);
  expect(
    (
      await api("patch", "/api/v1/models/internal/vision/matmul", {
        title: "MatMul demo",
        description: "A tiny TF.js graph model.",
        task: "demo",
        tags: ["tfjs"],
        license: "MIT",
      })
    ).status(),
  ).toBe(200);
  for (const h of ["internal/vision/matmul", "internal/vision/half_plus_two"]) {
    await expect
      .poll(
        async () => (await (await admin.request.get(`${stack.base}/api/v1/models/${h}/versions/1`)).json()).status,
        { timeout: 120_000 },
      )
      .toBe("validated");
    expect((await api("post", `/api/v1/models/${h}/versions/1/approve`, { note: "e2e" })).status()).toBe(200);
  }

  // Anyone (anonymous read is on) searches, filters and opens a model.
  const context = await browser.newContext({ colorScheme: "light" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: stack.base });
  const anon = await context.newPage();
  await anon.goto(stack.base);
  await expect(anon.getByText("2 models")).toBeVisible();
  await shot(anon, "21-catalogue", true);
  await anon.getByRole("searchbox", { name: "Search models" }).fill("half plu");
  await anon.getByRole("searchbox", { name: "Search models" }).press("Enter");
  await expect(anon.getByText("1 model matching")).toBeVisible();
  await expect(anon.getByRole("link", { name: "Half plus two" })).toBeVisible();
  await anon.goto(stack.base);
  await anon.getByRole("complementary", { name: "Filters" }).getByRole("link", { name: /MIT/ }).click();
  await expect(anon.getByText("1 model")).toBeVisible();
  await expect(anon.getByRole("link", { name: "MatMul demo" })).toBeVisible();
  await anon.getByRole("link", { name: "MatMul demo" }).click();
  await expect(anon.locator(".chart").first()).toBeVisible();
  await expect(anon.locator(".recharts-surface").first()).toBeVisible();
  await shot(anon, "22-model-tfjs", true);

  await anon.goto(`${stack.base}/internal/vision/half_plus_two`);
  await expect(anon.getByRole("heading", { name: "Half plus two", level: 1 })).toBeVisible();
  await expect(anon.locator(".markdown strong")).toHaveText("0.5 x + 2");
  await expect(anon.locator(".markdown script")).toHaveCount(0);
  await expect(anon.locator(".markdown img")).toHaveCount(0);
  expect(await anon.locator(".markdown a").getAttribute("href")).not.toContain("javascript:");
  expect(await anon.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  await expect(anon.getByRole("table").first()).toContainText("signature");
  const pinned = `${stack.base}/internal/vision/half_plus_two/1`;
  await expect(anon.locator('code[data-snippet="Keras layer"]')).toContainText(`hub.KerasLayer("${pinned}"`);
  await anon.getByRole("button", { name: "Copy Keras layer" }).click();
  await expect(anon.getByRole("button", { name: "Copied" })).toBeVisible();
  const copied = await anon.evaluate(() => navigator.clipboard.readText());
  expect(copied).toContain(`hub.KerasLayer("${pinned}", trainable=False`);
  await expect(anon.locator('code[data-snippet="curl"]')).toContainText("sha256sum -c -");
  // The SavedModel ran through the converter: the page says it runs in TF.js and what the conversion did.
  const tfjs = anon.locator('section[aria-labelledby="tfjs"]');
  await expect(tfjs.getByRole("heading", { name: "TF.js compatibility" })).toBeVisible();
  await expect(tfjs).toContainText("runs in TF.js");
  await expect(tfjs).toContainText("Converted by savedmodel-js 1.0.0");
  await tfjs.getByText(/^All \d+ ops$/).click();
  await expect(tfjs.getByRole("table")).toContainText("removed by the converter");
  await shot(anon, "23-model-savedmodel", true);
});

// Operating Hubkeep in a real browser (Debian's chromium) against the real server: Admin -> Webhooks
// (create one, its secret shown once, a signed test event to a real receiver on loopback, the
// delivery listed), Admin -> Storage (a quota with its usage, a version deleted by hand with a
// reason: its page says so and its URLs answer 410), and the model page's upstream-drift notice
// after the upstream changed the bytes under a version number, and an alias set and removed on the
// model page. Screens are saved as screenshots.
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Page } from "@playwright/test";
import { startE2EStack, type E2EStack } from "../helpers/e2e-stack.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const SHOTS = path.resolve("test-results/screenshots");
const KEEP = "tensorflow/lite-model/half_plus_two/1/default";
const GONE = "tensorflow/lite-model/add4/1/default";

let stack: E2EStack;
let receiver: WebhookReceiver;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  stack = await startE2EStack();
  receiver = await startWebhookReceiver();
});

test.afterAll(async () => {
  await receiver?.close();
  await stack?.stop();
});

async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Mirrors `handle` v1 through the API with the page's session, waits for validation, approves it; answers the mirror id. */
async function mirrorAndApprove(page: Page, handle: string): Promise<string> {
  const headers = { origin: stack.base };
  const m = await page.request.post(`${stack.base}/api/v1/mirrors`, {
    data: { url: `https://tfhub.dev/${handle}/1` },
    headers,
  });
  expect(m.status(), await m.text()).toBe(202);
  await expect
    .poll(
      async () => {
        const v = await page.request.get(`${stack.base}/api/v1/models/${handle}/versions/1`);
        return v.ok() ? ((await v.json()) as { status: string }).status : `HTTP ${v.status()}`;
      },
      { timeout: 120_000, message: `${handle} v1 validated` },
    )
    .toBe("validated");
  const ok = await page.request.post(`${stack.base}/api/v1/models/${handle}/versions/1/approve`, {
    data: { note: "for the operations journey" },
    headers,
  });
  expect(ok.status(), await ok.text()).toBe(200);
  return ((await m.json()) as { id: string }).id;
}

test("an admin wires a webhook, sets a quota, deletes a version by hand, and sees an upstream drift", async ({
  browser,
}) => {
  const page = await (await browser.newContext({ colorScheme: "light" })).newPage();
  await page.goto(`${stack.base}/signin?callbackUrl=${encodeURIComponent("/admin")}`);
  await page.getByLabel("Email").fill(stack.admin.email);
  await page.getByLabel("Password").fill(stack.admin.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(`${stack.base}/admin`);
  const nav = page.getByRole("navigation", { name: "Admin" });

  // 1. Admin -> Webhooks: the secret is shown once; a test event arrives signed.
  await nav.getByRole("link", { name: "Webhooks" }).click();
  await expect(page.getByRole("heading", { name: "Webhooks", level: 1 })).toBeVisible();
  const hookUrl = receiver.url("/ops");
  await page.getByLabel("Receiver URL").fill(hookUrl);
  await page.getByLabel("Description").fill("the platform team's bot");
  await page.locator('input[name="events"][value="*"]').check();
  await page.getByRole("button", { name: "Create webhook" }).click();
  const secretBox = page.getByTestId("new-webhook-secret");
  await expect(secretBox).toBeVisible();
  const secret = (await secretBox
    .locator("code")
    .filter({ hasText: /^whsec_/ })
    .textContent())!.trim();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
  receiver.setSecret("/ops", secret);
  await shot(page, "ops-01-webhook-created");
  // The secret is not shown again: a fresh load of the page has no trace of it.
  await page.goto(`${stack.base}/admin/webhooks`);
  await expect(page.getByTestId("new-webhook-secret")).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  const row = page.getByRole("row").filter({ hasText: hookUrl });
  await expect(row).toContainText("enabled");
  await row.getByRole("button", { name: `Send a test event to ${hookUrl}` }).click();
  const [test1] = await receiver.waitFor("/ops", 1, 30_000);
  expect(test1!.verifyError).toBeNull();
  expect((test1!.verified as { type: string }).type).toBe("webhook.test");
  await page.goto(`${stack.base}/admin/webhooks`);
  await page.getByRole("row").filter({ hasText: hookUrl }).getByRole("link", { name: "Deliveries" }).click();
  const delivery = page.getByRole("row").filter({ hasText: "webhook.test" });
  await expect(async () => {
    await page.reload();
    await expect(delivery).toContainText("delivered", { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(delivery).toContainText("HTTP 204");
  await shot(page, "ops-02-webhook-deliveries");

  // Two approved versions to operate on.
  const keepMirror = await mirrorAndApprove(page, KEEP);
  await mirrorAndApprove(page, GONE);

  // 2. Admin -> Storage: a quota shows its usage; a bad namespace is refused with a message.
  await page.goto(`${stack.base}/admin/storage`);
  await expect(page.getByRole("heading", { name: "Storage", level: 1 })).toBeVisible();
  const quotaForm = page.locator("form").filter({ has: page.getByRole("button", { name: "Set quota" }) });
  await quotaForm.getByLabel("Namespace").fill("has space/*");
  await quotaForm.getByLabel("Limit (bytes)").fill("1000000");
  await quotaForm.getByRole("button", { name: "Set quota" }).click();
  await expect(page.locator(".flash-error")).toContainText('"has space/*" is not a handle glob');
  await quotaForm.getByLabel("Namespace").fill("tensorflow/*");
  await quotaForm.getByLabel("Limit (bytes)").fill("1000000");
  await quotaForm.getByRole("button", { name: "Set quota" }).click();
  const quotaRow = page.getByRole("row").filter({ hasText: "tensorflow/*" });
  // half_plus_two (768 B) and add4 (952 B): 1,720 B of 1,000,000.
  await expect(quotaRow).toContainText("1,720 B");
  await expect(quotaRow).toContainText("0.2 %");
  await shot(page, "ops-03-storage-quota");

  // 3. Delete a version by hand, with a reason.
  const del = page.locator("form").filter({ has: page.getByRole("button", { name: "Delete", exact: true }) });
  await del.getByLabel("Model").fill(GONE);
  await del.getByLabel("Version").fill("1");
  await del.getByLabel("Reason").fill("superseded by the int8 build");
  await del.getByRole("button", { name: "Delete", exact: true }).click();
  await expect(page.locator(".flash-ok")).toContainText(`Deleted ${GONE} v1 (was approved)`);
  await expect(page.getByRole("row").filter({ hasText: "tensorflow/*" })).toContainText("768 B");
  await expect
    .poll(() => receiver.to("/ops").some((r) => (r.verified as { type?: string })?.type === "version.deleted"), {
      timeout: 30_000,
    })
    .toBe(true);
  // Its page says when, by whom and why; its pinned URL answers 410 saying the same.
  await page.goto(`${stack.base}/${GONE}/1`);
  const notice = page.locator(".notice-warn").filter({ hasText: "deleted by" });
  await expect(notice).toContainText(`by ${stack.admin.email}`);
  await expect(notice).toContainText("superseded by the int8 build");
  await expect(notice).toContainText("410 Gone");
  // No snippet offers to download it.
  await expect(page.getByTestId("deleted-usage")).toContainText("410 Gone");
  await expect(page.locator("code[data-snippet]")).toHaveCount(0);
  await shot(page, "ops-04-deleted-version");
  const gone = await fetch(`${stack.base}/${GONE}/1?lite-format=tflite`);
  expect(gone.status).toBe(410);
  expect(await gone.text()).toContain("superseded by the int8 build");

  // 4. The upstream changes the bytes under v1: a re-check flags the drift on the model page, and
  // the stored bytes keep being served.
  const changed = Buffer.concat([
    fs.readFileSync(fixturePath("serving-half_plus_two_tflite", "model.tflite")),
    Buffer.from([0]),
  ]);
  stack.upstream.overrides.set(`${KEEP}@1`, changed);
  const resync = await page.request.post(`${stack.base}/api/v1/mirrors/${keepMirror}/resync`, {
    headers: { origin: stack.base },
  });
  expect(resync.status(), await resync.text()).toBe(200);
  expect(((await resync.json()) as { drift: boolean }).drift).toBe(true);
  await page.goto(`${stack.base}/${KEEP}/1`);
  const drift = page.getByTestId("drift");
  await expect(drift).toContainText("upstream drift");
  await expect(drift).toContainText("sha256:");
  await expect(page.locator("code[data-snippet]").first()).toContainText(`${KEEP}/1`);
  await shot(page, "ops-05-drift");
  const still = await fetch(`${stack.base}/${KEEP}/1?lite-format=tflite`);
  expect(still.status).toBe(200);
  expect(Buffer.from(await still.arrayBuffer()).length).toBe(changed.length - 1);
  await expect
    .poll(() => receiver.to("/ops").some((r) => (r.verified as { type?: string })?.type === "upstream.drift"), {
      timeout: 30_000,
    })
    .toBe(true);

  // 5. Aliases on the model page: set one, the hub URL follows it, remove it.
  await page.goto(`${stack.base}/${KEEP}`);
  const aliases = page.getByRole("region", { name: "Aliases" });
  await expect(aliases).toContainText("keeps the first version it got");
  await aliases.getByLabel("Alias").fill("prod");
  await aliases.getByLabel("Version").selectOption("1");
  await aliases.getByRole("button", { name: "Set alias" }).click();
  await expect(page.locator(".flash-ok")).toContainText("@prod now points to version 1");
  await expect(page.getByTestId("aliases")).toContainText("@prod → version 1");
  await shot(page, "ops-06-aliases");
  const viaAlias = await fetch(`${stack.base}/${KEEP}/@prod?lite-format=tflite`, { redirect: "manual" });
  expect(viaAlias.status).toBe(302);
  expect(viaAlias.headers.get("location")).toBe(`/${KEEP}/1?lite-format=tflite`);
  await page.getByRole("button", { name: "Remove @prod" }).click();
  await expect(page.locator(".flash-ok")).toContainText("Removed @prod");
  expect((await fetch(`${stack.base}/${KEEP}/@prod?lite-format=tflite`, { redirect: "manual" })).status).toBe(404);
});

// The admin journey in a real browser (Debian's chromium) against the real server: sign in, mirror a
// fixture from the fake upstream while watching its progress, review its validation and benchmarks,
// approve it, download the pinned URL, and check that a viewer cannot reach the admin screens.
// Every admin screen is saved as a screenshot (light, and dark for the main ones).
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Page, type Browser } from "@playwright/test";
import { startE2EStack, type E2EStack } from "../helpers/e2e-stack.ts";
import { FAKE_MODELS } from "../helpers/fake-upstream.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const SHOTS = path.resolve("test-results/screenshots");
const HANDLE = "tensorflow/tfjs-model/blazeface/1/default";

let stack: E2EStack;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  // A second upstream version of the same model, so the queue shows a diff against an approved one.
  FAKE_MODELS[`${HANDLE}@2`] = { kind: "tfjs", dir: fixturePath("human-blazeface"), modelJson: "blazeface.json" };
  stack = await startE2EStack();
});

test.afterAll(async () => {
  delete FAKE_MODELS[`${HANDLE}@2`];
  await stack?.stop();
});

async function shot(page: Page, name: string, opts: { dark?: boolean } = {}) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  if (opts.dark) {
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
  }
}

async function signIn(page: Page, email: string, password: string, callbackUrl = "/") {
  await page.goto(`${stack.base}/signin?callbackUrl=${encodeURIComponent(callbackUrl)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL((u) => u.pathname === callbackUrl);
}

/** The first audit row whose action is exactly `action`. */
function auditAction(page: Page, action: string) {
  return page
    .locator("table.audit td code")
    .filter({ hasText: new RegExp(`^${action.replace(".", "\\.")}$`) })
    .first();
}

async function newPage(browser: Browser) {
  const context = await browser.newContext({ colorScheme: "light" });
  return context.newPage();
}

test("an admin mirrors, reviews and approves a model; a viewer cannot reach the admin screens", async ({ browser }) => {
  const page = await newPage(browser);

  // 1. Sign in. A wrong password first: the message does not say which part was wrong.
  await page.goto(`${stack.base}/admin`);
  await expect(page).toHaveURL(/\/signin\?callbackUrl=%2Fadmin/);
  await page.getByLabel("Email").fill(stack.admin.email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.locator(".flash-error")).toHaveText("Wrong email or password, or the account cannot sign in.");
  await shot(page, "01-sign-in-error");
  await page.getByLabel("Password").fill(stack.admin.password);
  // Keyboard only: Enter submits.
  await page.getByLabel("Password").press("Enter");
  await page.waitForURL(`${stack.base}/admin`);
  await expect(page.getByRole("heading", { name: "Review queue" })).toBeVisible();
  await expect(page.getByText("Nothing to review.")).toBeVisible();
  await shot(page, "02-queue-empty");

  // 2. Request a mirror and watch its progress until validation has finished.
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Mirrors" }).click();
  await page.getByLabel("Model URL").fill(`https://tfhub.dev/${HANDLE}/1`);
  await page.getByRole("button", { name: "Request mirror" }).click();
  await expect(page).toHaveURL(/\/admin\/mirrors\?watch=/);
  const progress = page.getByTestId("mirror-progress");
  await expect(progress.getByTestId("mirror-status")).toHaveText("stored", { timeout: 60_000 });
  await expect(progress.getByTestId("version-status")).toHaveText("validated", { timeout: 150_000 });
  await expect(progress).toContainText("p50");
  await shot(page, "03-mirror-progress", { dark: true });

  // Before approval the pinned URL serves nothing to clients (only admins may fetch it to inspect).
  const pinned = `${stack.base}/${HANDLE}/1/model.json`;
  expect((await fetch(pinned)).status).toBe(404);

  // 3. The queue shows the validation result and the benchmarks.
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Review queue" }).click();
  const item = page.getByRole("article").filter({ hasText: HANDLE });
  await expect(item).toContainText("validated");
  await expect(item).toContainText("level executed");
  await expect(item.getByRole("table").first()).toContainText("p50");
  await expect(item).toContainText("No earlier approved version");
  await shot(page, "04-queue-validated", { dark: true });

  // 4. Approve it with a note.
  await item.getByLabel("Note (optional)").fill("blazeface for the camera team");
  await item.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(page.locator(".flash-ok")).toContainText(`Approved ${HANDLE} v1`);
  await expect(page.getByText("Nothing to review.")).toBeVisible();

  // 5. The pinned URL now downloads for an anonymous client, with its digest. With an S3 store the
  // answer is a redirect to a presigned URL (the ETag is on the redirect); otherwise the bytes.
  const first = await fetch(pinned, { redirect: "manual" });
  expect([200, 302]).toContain(first.status);
  expect(first.headers.get("etag")).toMatch(/^"sha256:[0-9a-f]{64}"$/);
  const dl = first.status === 302 ? await fetch(first.headers.get("location")!) : first;
  expect(dl.status).toBe(200);
  const manifest = await dl.json();
  expect(manifest.modelTopology).toBeTruthy();

  // A second version: the queue diffs it against the approved first one. Rejecting needs a reason.
  const v2 = await page.request.post(`${stack.base}/api/v1/mirrors`, {
    data: { url: `https://tfhub.dev/${HANDLE}/2` },
    headers: { origin: stack.base },
  });
  expect(v2.status()).toBe(202);
  await page.goto(`${stack.base}/admin/mirrors?watch=${(await v2.json()).id}`);
  await expect(page.getByTestId("version-status")).toHaveText("validated", { timeout: 150_000 });
  await page.goto(`${stack.base}/admin`);
  const item2 = page.getByRole("article").filter({ hasText: HANDLE });
  await expect(item2).toContainText("Compared with approved version 1");
  await shot(page, "05-queue-diff", { dark: true });
  await item2.getByRole("button", { name: "Reject" }).click();
  await expect(page.locator(".flash-error")).toContainText("needs a reason");
  await item2.getByLabel("Rejection reason").fill("same bytes as v1; keep one");
  await item2.getByRole("button", { name: "Reject" }).click();
  await expect(page.locator(".flash-ok")).toContainText(`Rejected ${HANDLE} v2`);

  // Allowlist editor: preview before saving.
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Allowlist" }).click();
  await page.getByLabel("Effect").selectOption("deny");
  await page.getByLabel("Pattern").fill("tensorflow/tfjs-model/**");
  await page.getByLabel("Note").fill("TF.js models go through the web team");
  await page.getByRole("button", { name: "Preview" }).click();
  const preview = page.getByTestId("rule-preview");
  await expect(preview).toContainText("matches 1 existing model");
  await expect(preview).toContainText(HANDLE);
  await shot(page, "06-allowlist-preview", { dark: true });
  await preview.getByRole("button", { name: "Save deny rule" }).click();
  await expect(page.locator(".flash-ok")).toContainText("Saved deny rule");

  // Users: add a viewer.
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Users & tokens" }).click();
  const addUser = page.locator("form").filter({ has: page.getByRole("button", { name: "Add user" }) });
  await addUser.getByLabel("Email").fill("viewer@example.com");
  await addUser.getByRole("combobox").selectOption("viewer");
  await addUser.getByLabel("Password").fill("viewer-password-1");
  await addUser.getByRole("button", { name: "Add user" }).click();
  await expect(page.locator(".flash-ok")).toContainText("Created viewer@example.com (viewer)");

  // Tokens: create one, shown once.
  await page.goto(`${stack.base}/tokens`);
  await page.getByLabel("Name").fill("journey CLI");
  await page.getByLabel("Scope").selectOption("admin");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").locator("code").first().textContent())!;
  expect(token).toMatch(/^hk_[A-Za-z0-9_-]{43}$/);
  const me = await page.request.get(`${stack.base}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  expect((await me.json()).scope).toBe("admin");
  await shot(page, "07-tokens");
  await page.goto(`${stack.base}/admin/users`);
  await expect(page.getByRole("row").filter({ hasText: "journey CLI" })).toContainText("active");
  await shot(page, "08-users-tokens", { dark: true });

  // 6. A viewer signs in elsewhere and cannot see the admin pages (each one checks for itself).
  const viewer = await newPage(browser);
  await signIn(viewer, "viewer@example.com", "viewer-password-1");
  await expect(viewer.getByRole("link", { name: "Admin" })).toHaveCount(0);
  for (const p of ["/admin", "/admin/mirrors", "/admin/allowlist", "/admin/users", "/admin/audit"]) {
    await viewer.goto(`${stack.base}${p}`);
    await expect(viewer.getByRole("heading", { name: "Not allowed" })).toBeVisible();
    await expect(viewer.getByText(HANDLE)).toHaveCount(0);
    await expect(viewer.getByText("admin@example.com")).toHaveCount(0);
  }
  await shot(viewer, "09-viewer-forbidden");
  // The approved model is visible to the viewer in the catalogue and downloads.
  expect((await viewer.request.get(pinned)).status()).toBe(200);
  // The JSON API says the same: 403 naming the permission.
  const forbidden = await viewer.request.get(`${stack.base}/api/v1/review`);
  expect(forbidden.status()).toBe(403);
  expect((await forbidden.json()).error.message).toContain("permission");

  // The audit log shows the whole story, and the viewer's denied attempts.
  await page.goto(`${stack.base}/admin/audit`);
  for (const action of [
    "auth.signin",
    "mirror.request",
    "version.approve",
    "version.reject",
    "allowlist.add",
    "user.create",
    "token.create",
  ]) {
    await expect(auditAction(page, action)).toBeVisible();
  }
  await shot(page, "10-audit", { dark: true });
  await page.getByLabel("Actor").fill("viewer@example.com");
  await page.getByLabel("Outcome").selectOption("denied");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(auditAction(page, "denied.approve")).toBeVisible();
  await expect(auditAction(page, "denied.admin")).toBeVisible();
  await shot(page, "11-audit-filtered");
});

// The photos app in headless Chromium, through the edge, while the app is
// fenced, failed over, loses its primary to kill -9, and fails back (issue
// 16's "Must show"). Each step saves a screenshot under the artifacts
// directory; the console must stay free of errors and every image must
// have alt text. Run: node --test tests/browser/ (TANDEM_BIN, CHROMIUM).
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Deployment, launchBrowser, stepper, png, waitFor } from "./harness.mjs";

const deployment = new Deployment();
let browser;
let page;
const consoleErrors = [];
const COMMENT = "First light over the harbour";
const TOKYO_COMMENT = "Written while ap-tokyo took the writes";
const PASSWORD = "Photos-2026-browser!";

const { step, shot } = stepper(() => page, "");

/** The region named by the header of the page (the edge's x-edge-region of the state read). */
const shownRegion = () => page.getByTestId("region").locator("strong").innerText();

async function upload(name, colour) {
  const file = path.join(deployment.dir, name);
  writeFileSync(file, png(640, 480, colour));
  const responded = page.waitForResponse((r) => r.request().method() === "PUT" && r.url().includes("/photos-us-east/photos/"));
  await page.locator('input[name="photo"]').setInputFiles(file);
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  const put = await responded;
  await page.getByText(`${name} uploaded`).waitFor({ timeout: 20000 });
  return put;
}

const thumbnails = () => page.locator(".gallery img");

/** How many images of `selector` the browser decoded (a garbled body shows only the alt text). */
const decoded = (selector) => page.$$eval(selector, (imgs) => imgs.filter((i) => i.complete && i.naturalWidth > 0).length);

before(async () => {
  await deployment.setUp();
  await deployment.startAll();
  browser = await launchBrowser();
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
});

after(async () => {
  await browser?.close();
  await deployment.stop();
});

step("1: sign in with the temporary password, set a new one, upload a photo, comment, see both", async () => {
  const temporary = await deployment.createUser("alice@photos.test");
  await page.goto(`${deployment.edge}/`);
  await page.getByLabel("Username or email").fill("alice@photos.test");
  await page.getByLabel("Password").fill(temporary);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("New password").fill(PASSWORD);
  await shot("1a-new-password");
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByRole("heading", { name: "Upload a photo" }).waitFor({ timeout: 20000 });
  assert.equal(await shownRegion(), "us-east");
  const put = await upload("harbour.png", [40, 90, 160]);
  assert.equal(put.status(), 200);
  assert.equal((await put.allHeaders())["x-edge-region"], "us-east");
  await waitFor("the thumbnail in the gallery", async () => (await thumbnails().count()) === 1);
  await waitFor("the thumbnail to decode", async () => (await decoded(".gallery img")) === 1);
  await thumbnails().first().click();
  await page.locator("img.full").waitFor();
  await waitFor("the photo to decode", async () => (await decoded("img.full")) === 1);
  const size = await page.locator("img.full").evaluate((i) => [i.naturalWidth, i.naturalHeight]);
  assert.deepEqual(size, [640, 480], "the original is shown, not the thumbnail");
  await page.getByLabel("Your comment").fill(COMMENT);
  await page.getByRole("button", { name: "Add comment" }).click();
  await page.getByTestId("comments").getByText(COMMENT).waitFor();
  await shot("1b-photo-and-comment");
});

step("2: fenced: the banner shows and uploads are off within 2 s", async () => {
  await page.getByLabel("Your comment").fill("a draft typed before the fence");
  await deployment.cli(["state", "set", "photos", "fenced", "--force"]);
  const fencedAt = Date.now();
  await page.getByTestId("banner-fenced").waitFor({ timeout: 2000 });
  await waitFor("the upload to be disabled", () => page.getByRole("button", { name: "Upload", exact: true }).isDisabled(), 2000, 50);
  assert.ok(Date.now() - fencedAt <= 2000, `the page followed in ${Date.now() - fencedAt} ms`);
  assert.ok(await page.locator('input[name="photo"]').isDisabled());
  assert.match(await page.getByTestId("upload-blocked").innerText(), /fenced/);
  assert.equal(await page.getByLabel("Your comment").inputValue(), "a draft typed before the fence", "the draft survives");
  await shot("2-fenced");
  await deployment.cli(["state", "set", "photos", "active"]);
  await page.getByTestId("banner-fenced").waitFor({ state: "detached", timeout: 5000 });
});

step("3: planned failover: the same photo and comment come from ap-tokyo, and a new upload is accepted there", async () => {
  await deployment.cli(["failover", "photos", "--planned"]);
  await page.getByTestId("banner-failover").waitFor({ timeout: 5000 });
  await waitFor("the page to show ap-tokyo", async () => (await shownRegion()) === "ap-tokyo", 5000);
  const comments = page.waitForResponse(
    (r) => r.request().method() === "POST" && (r.request().headers()["x-amz-target"] ?? "").endsWith(".Query"),
  );
  const listed = await comments;
  assert.equal((await listed.allHeaders())["x-edge-region"], "ap-tokyo");
  await page.getByTestId("comments").getByText(COMMENT).waitFor();
  assert.equal(await page.getByLabel("Your comment").inputValue(), "a draft typed before the fence", "the draft survives");
  // The photo itself, opened again, comes from ap-tokyo's bucket.
  await page.getByRole("button", { name: "Close the photo" }).click();
  const photo = page.waitForResponse((r) => r.request().method() === "GET" && r.url().includes("/photos-us-east/photos/"));
  await thumbnails().first().click();
  assert.equal((await (await photo).allHeaders())["x-edge-region"], "ap-tokyo");
  await waitFor("the photo to decode", async () => (await decoded("img.full")) === 1);
  await page.getByLabel("Your comment").fill(TOKYO_COMMENT);
  await page.getByRole("button", { name: "Add comment" }).click();
  await page.getByTestId("comments").getByText(TOKYO_COMMENT).waitFor();
  const put = await upload("tokyo.png", [200, 60, 40]);
  assert.equal((await put.allHeaders())["x-edge-region"], "ap-tokyo");
  await waitFor("both thumbnails", async () => (await decoded(".gallery img")) === 2, 15000);
  await shot("3-failover");
});

step("4: kill -9 of us-east: the page keeps showing content through the edge", async () => {
  await deployment.kill("us-east");
  // The gallery lists again every 5 s and the comments every 3 s: both must keep answering.
  const listing = await page.waitForResponse((r) => r.request().method() === "GET" && r.url().includes("list-type=2"), {
    timeout: 15000,
  });
  assert.equal(listing.status(), 200);
  assert.equal((await listing.allHeaders())["x-edge-region"], "ap-tokyo");
  await page.getByTestId("comments").getByText(COMMENT).waitFor();
  assert.equal(await thumbnails().count(), 2);
  assert.equal(await shownRegion(), "ap-tokyo");
  await shot("4-primary-killed");
});

step("5: failback after the restart: everything, including what was written during the failover, is in the primary", async () => {
  await deployment.startRegion("us-east");
  // Failback refuses ("nothing was changed") until ap-tokyo's replication
  // to the restarted us-east works again (its next retry), so ask until then.
  await waitFor("failback to be accepted", () => deployment.cli(["failback", "photos"], 180000), 60000, 1000);
  await page.getByTestId("banner-failover").waitFor({ state: "detached", timeout: 5000 });
  await waitFor("the page to show us-east", async () => (await shownRegion()) === "us-east", 5000);
  const objects = await deployment.aws("us-east", ["s3api", "list-objects-v2", "--bucket", "photos-us-east", "--prefix", "photos/"]);
  assert.equal(objects.Contents?.length, 2, JSON.stringify(objects));
  const scanned = await deployment.aws("us-east", ["dynamodb", "scan", "--table-name", "comments"]);
  const texts = scanned.Items.map((i) => i.text.S).sort();
  assert.deepEqual(texts, [COMMENT, TOKYO_COMMENT].sort(), JSON.stringify(scanned));
  const thumbs = await deployment.aws("us-east", ["s3api", "list-objects-v2", "--bucket", "photos-us-east", "--prefix", "thumbs/"]);
  assert.equal(thumbs.Contents?.length, 2, JSON.stringify(thumbs));
  await page.getByTestId("comments").getByText(COMMENT).waitFor();
  assert.equal(await thumbnails().count(), 2);
  await shot("5-failed-back");
});

step("accessibility and console: no console errors, every image has alt text, narrow screens work", async () => {
  const missingAlt = await page.$$eval("img", (imgs) => imgs.filter((i) => !i.getAttribute("alt")).length);
  assert.equal(missingAlt, 0, "images without alt text");
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone screen`);
  await shot("6-narrow");
  assert.deepEqual(consoleErrors, []);
});

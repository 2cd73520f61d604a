// Drives headless Chromium through the signal browser for web/tests/browser.rs: open the
// page, watch a value change, log in, write a signal (with the confirmation), take a
// screenshot. Prints one "STEP <name> <json>" line per step; any failure exits non-zero
// with the reason on standard error.
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env("WEB_BASE");
const shot = env("WEB_SCREENSHOT");
const step = (name, data) => console.log(`STEP ${name} ${JSON.stringify(data ?? {})}`);

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  // playwright-core adds --no-sandbox (chromiumSandbox is off) and its own fresh
  // profile; the rest keeps Chromium off the network on a closed machine.
  args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  timeout: 60000,
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 980 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.setDefaultTimeout(15000);

  await page.goto(base + "/");
  await page.waitForSelector('#device-list li[data-device="gina9001.cafenet"]');
  await page.waitForSelector("#live.on");
  const counter = page.locator('tr[data-signal="exp.counter"] td.value');
  await counter.waitFor();
  const first = (await counter.textContent()).trim();
  await page.waitForFunction(
    (f) => document.querySelector('tr[data-signal="exp.counter"] td.value').textContent.trim() !== f,
    first);
  const second = (await counter.textContent()).trim();
  step("live", { first, second });

  const str = (await page.locator('tr[data-signal="exp.teststr"] td.value').textContent()).trim();
  const arr = await page.locator('tr[data-signal="exp.testfloat"] td.value .item').allTextContents();
  const potClass = await page.locator('tr[data-signal="exp.potentiometer"]').getAttribute("class");
  const chips = await page.locator('tr[data-signal="exp.potentiometer"] .chip').allTextContents();
  const plots = await page.locator('tr[data-signal="exp.counter"] svg.plot path.plot-line').count();
  step("shown", { str, arr, potClass, chips, plots });

  const input = page.locator('tr[data-signal="imp.setpoint"] .write-input');
  const before = { disabled: await input.isDisabled() };
  step("before-login", before);

  await page.fill("#login-user", env("WEB_USER"));
  await page.fill("#login-password", env("WEB_PASSWORD"));
  await page.click("#login-button");
  await page.waitForSelector("#who:not([hidden])");
  const who = (await page.locator("#who-name").textContent()).trim();
  step("login", { who, disabled: await input.isDisabled() });

  // Cancelling the confirmation writes nothing.
  await input.fill("999");
  await page.click('tr[data-signal="imp.setpoint"] .write-button');
  await page.waitForSelector("#write-dialog[open]");
  await page.click("#wd-cancel");
  await page.waitForSelector("#write-dialog:not([open])", { state: "attached" });
  await page.waitForTimeout(300);
  step("cancelled", {
    value: (await page.locator('tr[data-signal="imp.setpoint"] td.value').textContent()).trim(),
  });

  await input.fill("1234");
  await page.click('tr[data-signal="imp.setpoint"] .write-button');
  await page.waitForSelector("#write-dialog[open]");
  const asked = {
    signal: (await page.locator("#wd-signal").textContent()).trim(),
    device: (await page.locator("#wd-device").textContent()).trim(),
    now: (await page.locator("#wd-old").textContent()).trim(),
    next: (await page.locator("#wd-new").textContent()).trim(),
  };
  step("confirm", asked);
  await page.click("#wd-confirm");
  await page.waitForFunction(() => document.querySelector("#toast").textContent.includes("Wrote imp.setpoint"));
  await page.waitForFunction(
    () => document.querySelector('tr[data-signal="imp.setpoint"] td.value').textContent.trim() === "1234");
  step("written", { toast: (await page.locator("#toast").textContent()).trim() });

  // Let the device's next changes and the plots show before the picture.
  await page.waitForTimeout(1200);
  await page.screenshot({ path: shot, fullPage: true });
  step("screenshot", { path: shot, problems });
  if (problems.length) throw new Error("errors on the page: " + problems.join("; "));
} finally {
  await browser.close();
}

/** Headless Chromium (Debian's, at /usr/bin/chromium) through puppeteer-core, for the web console's tests. */
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = process.env.COFFER_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or false when they can. */
export function noBrowser(): string | false {
  return existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (.ci/run installs Debian's chromium)`;
}

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Waits until the element's text includes `text`; fails with what it showed instead. */
export async function waitForText(page: Page, selector: string, text: string, timeout = 10_000): Promise<string> {
  try {
    await page.waitForFunction(
      (sel: string, t: string) => {
        // Runs in the page (the test project has no DOM types).
        const e = (globalThis as any).document.querySelector(sel);
        return e !== null && e.offsetParent !== null && String(e.textContent ?? '').includes(t);
      },
      { timeout },
      selector,
      text,
    );
  } catch {
    const shown = await page.$eval(selector, (e) => e.textContent ?? '').catch(() => '(absent)');
    const error = await page.$eval('#error', (e) => ((e as any).hidden ? '' : (e.textContent ?? ''))).catch(() => '');
    throw new Error(`'${selector}' never showed '${text}'; it shows '${shown}'${error ? `; the error banner says '${error}'` : ''}`);
  }
  return page.$eval(selector, (e) => e.textContent ?? '');
}

/** Logs in on the console's login form. */
export async function consoleLogin(page: Page, base: string, accessKeyId: string, secretAccessKey: string): Promise<void> {
  await page.goto(`${base}/_coffer/console/`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#login-form', { visible: true });
  await page.waitForSelector('#nav', { hidden: true });
  await page.type('#login-key', accessKeyId);
  await page.type('#login-secret', secretAccessKey);
  await page.click('#login-submit');
  await page.waitForSelector('#nav', { visible: true });
  await page.waitForSelector('#login-form', { hidden: true });
}

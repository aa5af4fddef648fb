/// <reference lib="dom" />
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureBinary } from '@durable-sessions/conformance/infra';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startCli, stdoutUntil } from './run-cli.js';

/** Where the tests save screenshots of the page; README.md and docs/demo.md show them. */
export const SCREENSHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));

/** Chromium flags for a closed, 2-core machine: no sandbox (root in CI), no GPU, no background traffic. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The running demo (`durable-sessions demo` as a child process) and a headless Chromium. */
export interface DemoHarness {
  url: string;
  browser: Browser;
  /** A page in a fresh browser context (its own sessionStorage: a new viewer) on chat `chat`. */
  open(chat: string): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Starts the built CLI's web demo on the memory backend on a free port, and Debian's Chromium (installed on first
 * use through the project's apt helper).
 */
export async function startDemoHarness(args: string[]): Promise<DemoHarness> {
  const executablePath = await ensureBinary('chromium', 'chromium', (line) => process.stderr.write(`${line}\n`));
  mkdirSync(SCREENSHOTS, { recursive: true });
  const child: ChildProcessWithoutNullStreams = startCli(['demo', '--no-open', '--port', '0', ...args]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const lines = await stdoutUntil(child, (l) => l.length >= 1);
  const first = lines[0] ?? '';
  if (!first.startsWith('URL=')) throw new Error(`the demo's first line is not URL=…: ${first}\n${stderr}`);
  const url = first.slice('URL='.length);
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  return {
    url,
    browser,
    async open(chat) {
      const context = await browser.newContext({ viewport: { width: 1000, height: 620 }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      page.on('pageerror', (err) => process.stderr.write(`page error: ${err.message}\n`));
      await page.goto(`${url}?chat=${chat}`);
      await page.getByTestId('connection-state').and(page.locator('[data-status=live]')).waitFor({ timeout: 15_000 });
      return page;
    },
    async close() {
      await browser.close().catch(() => {});
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGINT');
      });
      if (child.exitCode !== 0 && child.signalCode === null && stderr) process.stderr.write(stderr);
    },
  };
}

/** The text of the last assistant message. */
export async function assistantText(page: Page): Promise<string> {
  return (await page.getByTestId('message-assistant').last().getByTestId('assistant-text').allTextContents()).join('');
}

/** Waits until the last assistant message has at least `chars` characters of text while its run is still active. */
export async function waitForPartialText(page: Page, chars: number): Promise<string> {
  await page.waitForFunction(
    (n) => {
      const runs = document.querySelectorAll('[data-testid=message-assistant]');
      const run = runs[runs.length - 1] as HTMLElement | undefined;
      const text = [...(run?.querySelectorAll('[data-testid=assistant-text]') ?? [])].map((e) => e.textContent ?? '').join('');
      return run?.dataset.status === 'active' && text.length >= n;
    },
    chars,
    { timeout: 15_000, polling: 'raf' },
  );
  return assistantText(page);
}

/** Waits for the last assistant message's run to end with `status` (`finished`, `aborted`, `error`). */
export async function waitForRunEnd(page: Page, status: 'finished' | 'aborted' | 'error'): Promise<void> {
  await page.locator(`[data-testid=message-assistant]:last-child[data-status=${status}]`).waitFor({ timeout: 20_000 });
}

/** Sends a question from the composer. */
export async function ask(page: Page, question: string): Promise<void> {
  await page.getByTestId('composer-input').fill(question);
  await page.getByTestId('send-button').click();
}

/** Presence members shown on the page, by role. */
export async function presence(page: Page): Promise<{ viewers: number; agents: number }> {
  return page.evaluate(() => ({
    viewers: document.querySelectorAll('[data-testid=presence-member][data-role=viewer]').length,
    agents: document.querySelectorAll('[data-testid=presence-member][data-role=agent]').length,
  }));
}

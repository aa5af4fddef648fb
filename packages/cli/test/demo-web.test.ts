import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockAnswer, tokenize } from '../src/demo/mock-model.js';
import { ask, assistantText, presence, SCREENSHOTS, startDemoHarness, waitForPartialText, waitForRunEnd, type DemoHarness } from './demo-web-harness.js';

// The web demo in a real headless Chromium against the real `durable-sessions demo` process (memory backend, auth
// on, a free port). The mock model streams a known answer, so every test compares the page with the exact text:
// nothing lost, nothing repeated. No sleeps: every wait is on a condition in the page, with a timeout.

let demo: DemoHarness;
let n = 0;
const chatId = () => `t${Date.now().toString(36)}${++n}`;

beforeAll(async () => {
  // 30 ms per token: a ~140-token answer streams for about 4 s, long enough to reload, cut or stop it mid-way.
  demo = await startDemoHarness(['--token-ms', '30', '--presence-timeout-ms', '2500']);
}, 600_000); // the first run on a fresh machine installs Chromium

afterAll(async () => {
  await demo?.close();
});

/** Saves two screenshots side by side (laid out by the browser itself: no image library needed). */
async function sideBySide(shots: Buffer[], path: string): Promise<void> {
  const page = await demo.browser.newPage({ viewport: { width: 2008, height: 620 }, deviceScaleFactor: 1 });
  const images = shots.map((png) => `<img src="data:image/png;base64,${png.toString('base64')}">`).join('');
  await page.setContent(`<body style="margin:0;display:flex;gap:8px;background:#c9ced8">${images.replace(/<img /g, '<img style="width:1000px" ')}</body>`);
  await page.waitForFunction(() => [...document.images].every((img) => img.complete && img.naturalWidth > 0));
  await page.screenshot({ path, fullPage: true });
  await page.close();
}

describe('durable-sessions demo (web)', () => {
  it('prints URL= first and redirects a bare visit to a new chat', async () => {
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(demo.url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/^\/\?chat=[A-Za-z0-9_-]+$/);
    // Auth stays on: a token is scoped to one chat session.
    const token = await fetch(`${demo.url}api/token?chat=abc&viewer=v1`).then((r) => r.json() as Promise<{ token: string; session: string }>);
    expect(token.session).toBe('chat-abc');
    const claims = JSON.parse(Buffer.from(token.token.split('.')[1]!, 'base64url').toString('utf8')) as { sessions: string[]; rights: string[] };
    expect(claims.sessions).toEqual(['chat-abc']);
    expect(claims.rights.sort()).toEqual(['append', 'control', 'presence', 'read']);
  });

  it('streams the answer token by token: a tool step, then the text, then the end of the run', async () => {
    const page = await demo.open(chatId());
    const question = 'What happens if I reload the page mid-answer?';
    await ask(page, question);
    await page.getByTestId('tool-step').and(page.locator('[data-state=output-available]')).waitFor({ timeout: 15_000 });
    const early = await waitForPartialText(page, 30);
    // The step boundary is shown while the run goes on: a finished step is not the end.
    expect(await page.getByTestId('step-finish').count()).toBeGreaterThan(0);
    const later = await waitForPartialText(page, early.length + 150);
    expect(later.startsWith(early)).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-streaming.png') });
    await waitForRunEnd(page, 'finished');
    expect(await assistantText(page)).toBe(mockAnswer(question));
    expect(tokenize(mockAnswer(question)).join('')).toBe(mockAnswer(question));
    await page.context().close();
  });

  it('continues the same text after a reload mid-stream, with no token lost or repeated', async () => {
    const page = await demo.open(chatId());
    const question = 'Does a reload lose anything?';
    await ask(page, question);
    const before = await waitForPartialText(page, 40);
    expect(before.length).toBeLessThan(mockAnswer(question).length);
    await page.reload();
    // Still mid-run after the reload: the page shows the text so far (at least what it had) while the run streams.
    const resumed = await waitForPartialText(page, before.length);
    expect(resumed.startsWith(before)).toBe(true);
    await waitForRunEnd(page, 'finished');
    const after = await assistantText(page);
    expect(after).toBe(mockAnswer(question));
    expect(await page.getByTestId('message-user').count()).toBe(1);
    expect(await page.getByTestId('message-assistant').count()).toBe(1);
    await page.context().close();
  });

  it('shows the same session live in a second tab, and presence lists both viewers and the agent', async () => {
    const chat = chatId();
    const first = await demo.open(chat);
    const second = await demo.open(chat);
    for (const page of [first, second]) {
      await page.waitForFunction(
        () =>
          document.querySelectorAll('[data-testid=presence-member][data-role=viewer]').length === 2 &&
          document.querySelectorAll('[data-testid=presence-member][data-role=agent]').length === 1,
        undefined,
        { timeout: 15_000 },
      );
    }
    const question = 'Can I follow this answer from another tab?';
    await ask(first, question);
    // The second tab did not send anything: it follows the run live, as it streams.
    await waitForPartialText(second, 80);
    await sideBySide([await first.screenshot(), await second.screenshot()], join(SCREENSHOTS, 'demo-two-tabs.png'));
    await waitForRunEnd(first, 'finished');
    await waitForRunEnd(second, 'finished');
    expect(await assistantText(first)).toBe(mockAnswer(question));
    expect(await assistantText(second)).toBe(mockAnswer(question));
    expect(await second.getByTestId('message-user').allTextContents()).toEqual([question]);
    await first.context().close();
    await second.context().close();
  });

  it('stops generation through the control channel and shows the agent acknowledgement', async () => {
    const page = await demo.open(chatId());
    const question = 'How does Stop work?';
    await ask(page, question);
    await waitForPartialText(page, 40);
    await page.getByTestId('stop-button').click();
    await page.locator('[data-testid=stop-status][data-acknowledged]').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('stop-status').textContent()).toMatch(/^stopped — agent acknowledged \(after \d+ tokens\)$/);
    await waitForRunEnd(page, 'aborted');
    await page.getByTestId('run-status').getByText(/agent acknowledged/).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-stopped.png') });
    // Generation really stopped: a strict prefix of the answer, and the Stop button is off.
    const text = await assistantText(page);
    expect(mockAnswer(question).startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(mockAnswer(question).length);
    expect(await page.getByTestId('stop-button').isDisabled()).toBe(true);
    await page.context().close();
  });

  it('resumes after a simulated network drop with nothing lost or repeated', async () => {
    const page = await demo.open(chatId());
    const question = 'What if my network drops?';
    await ask(page, question);
    await waitForPartialText(page, 30);
    await page.getByTestId('drop-button').click();
    const state = page.getByTestId('connection-state');
    await state.and(page.locator('[data-status=reconnecting]')).waitFor({ timeout: 10_000 });
    expect(await state.textContent()).toMatch(/^reconnecting, resuming from \S+$/);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-reconnecting.png') });
    await state.and(page.locator('[data-status=live]')).waitFor({ timeout: 15_000 });
    await waitForRunEnd(page, 'finished');
    expect(await assistantText(page)).toBe(mockAnswer(question));
    await page.context().close();
  });

  it('shows a crashed agent as gone after the presence timeout (not at once), and back after a restart', async () => {
    const page = await demo.open(chatId());
    await page.locator('[data-testid=presence-member][data-role=agent]').waitFor({ timeout: 15_000 });
    const crashedAt = Date.now();
    await page.getByTestId('agent-button').click();
    await page.locator('[data-testid=agent-button][data-agent=crashed]').waitFor({ timeout: 10_000 });
    // No goodbye: the agent is still shown until its heartbeats time out (2.5 s, heartbeats every 625 ms).
    expect(await page.locator('[data-testid=presence-member][data-role=agent]').count()).toBe(1);
    await page.locator('[data-testid=presence-member][data-role=agent]').waitFor({ state: 'detached', timeout: 15_000 });
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(1_000);
    expect((await presence(page)).agents).toBe(0);
    // Restarted, the agent attaches to the chats it served again and enters presence.
    await page.getByTestId('agent-button').click();
    await page.locator('[data-testid=presence-member][data-role=agent]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid=agent-button][data-agent=running]').waitFor({ timeout: 10_000 });
    await page.context().close();
  });
});

/**
 * The web page in a real browser (chromium) against the real serve, runner, CLI and scripted
 * model: sign in through the printed URL, create a session from the form, watch text stream in
 * before the turn ends, tool cards (Bash, Edit with a diff, Write, Read), the summary and the
 * phases in order; an interactive session (message, interrupt, end); model output that tries to
 * run script is shown as text and runs nothing; serve killed and restarted mid-session: the page
 * reconnects and shows every entry once, in order. Screenshots go to a temp dir, or to
 * docs/screenshots/ with UPDATE_SCREENSHOTS=1 (so a test run leaves the tree as it was).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Scenario } from '../../src/testing/scripted-model/index.js';
import { history, PROJECT, startE2e, waitFor, type E2e } from '../control-plane-e2e/helpers.js';
import { launchBrowser } from './browser.js';

const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots')
    : mkdtempSync(path.join(tmpdir(), 'web-screenshots-'));

/** Takes a screenshot and checks that it is a real image (a PNG of some size). */
async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  const file = path.join(mkdirp(SCREENSHOTS), name);
  await page.screenshot({ path: file, fullPage });
  assert.ok(statSync(file).size > 1000, `${name} is an image`);
}

const STREAMED =
  'Let me set up **the greeting**. First I write the file, then I read it back, change it and run it.';
const XSS =
  'Here: <script>window.__pwned = "script"</script> and <img src=x onerror="window.__pwned = \'img\'"> and [a link](javascript:window.__pwned=%22link%22) done.';

const SCENARIOS: Scenario[] = [
  {
    name: 'web-tools',
    turns: [
      {
        steps: [
          {
            thinking: 'The user wants a greeting script: write it, check it, run it.',
            text: STREAMED,
            chunkSize: 3,
            chunkDelayMs: 40,
            tools: [
              {
                name: 'Write',
                input: { file_path: '{{cwd}}/greet.sh', content: 'echo "hello from the web"\n' },
              },
            ],
          },
          { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/greet.sh' } }] },
          {
            tools: [
              {
                name: 'Edit',
                input: {
                  file_path: '{{cwd}}/greet.sh',
                  old_string: 'echo "hello from the web"',
                  new_string: 'echo "hello from the browser"',
                },
              },
            ],
          },
          {
            tools: [
              {
                name: 'Bash',
                input: { command: 'sh greet.sh', description: 'Run the greeting' },
              },
            ],
          },
          {
            tools: [{ name: 'Bash', input: { command: 'exit 3', description: 'Fail on purpose' } }],
          },
          { text: 'Done:\n\n```bash\nsh greet.sh\n```\n\nprints `hello from the browser`.' },
        ],
      },
    ],
  },
  { name: 'web-xss', turns: [{ steps: [{ text: XSS }] }] },
  {
    name: 'web-chat',
    turns: [
      { match: 'hello web', steps: [{ text: 'Hi from the web.' }] },
      {
        match: 'take your time',
        steps: [
          {
            text: 'This is a very long and slow answer that the user interrupts before it ends, so its last words never come.',
            chunkSize: 2,
            chunkDelayMs: 150,
          },
        ],
      },
    ],
  },
  {
    name: 'web-agent',
    turns: [
      {
        match: 'delegate',
        steps: [
          {
            tools: [
              {
                name: 'Agent',
                input: {
                  description: 'Echo in a sub-agent',
                  prompt: 'SUBTASK: run echo',
                  subagent_type: 'general-purpose',
                  run_in_background: false,
                },
              },
            ],
          },
          { text: 'The sub-agent reported back.' },
        ],
      },
      {
        match: 'SUBTASK',
        steps: [
          { tools: [{ name: 'Bash', input: { command: 'echo sub-bash', description: 'Echo' } }] },
          { text: 'sub-agent found: {{lastToolResult}}' },
        ],
      },
    ],
  },
  {
    name: 'web-slow',
    turns: [
      {
        steps: [
          {
            tools: [
              {
                name: 'Bash',
                input: { command: 'sleep 1; echo step-{{step}}', description: 'Wait a second' },
              },
            ],
            repeat: 4,
          },
          { text: 'All steps done.' },
        ],
      },
    ],
  },
];

let e2e: E2e;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let xssSession = '';
const dialogs: string[] = [];
/** Every URL the page asked for (HTTP and sockets): the token must be in none. */
const urls: string[] = [];

before(async () => {
  e2e = await startE2e({ scenarios: SCENARIOS, generateToken: true });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
  page.on('request', (r) => urls.push(r.url()));
  page.on('websocket', (ws) => urls.push(ws.url()));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
});
after(async () => {
  await browser?.close();
  await e2e?.close();
});

const text = (sel: string) => page.locator(sel).allInnerTexts();

async function createFromForm(prompt: string, interactive = false): Promise<string> {
  await page.goto(`${e2e.serve.url}/#/p/${PROJECT}`);
  await page.getByRole('button', { name: 'New session' }).click();
  await page.getByLabel('Prompt').fill(prompt);
  if (interactive) await page.getByLabel('Interactive').check();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(new RegExp(`#/p/${PROJECT}/s/session-`));
  return /\/s\/([a-z0-9-]+)/.exec(page.url())![1]!;
}

async function waitForPhase(phase: string, timeout = 90_000): Promise<void> {
  await page.getByTestId('phase').filter({ hasText: phase }).waitFor({ timeout });
}

describe('the web page in chromium', () => {
  it('signs in through the URL serve printed, and takes the token out of the address bar', async () => {
    const printed = /open the web page, signed in: (\S+)/.exec(e2e.serve.output().stdout)?.[1];
    assert.ok(printed, 'serve printed a sign-in URL');
    assert.ok(printed.startsWith(`${e2e.serve.url}/#token=`));
    const res = await page.goto(printed);
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    assert.equal(new URL(page.url()).hash, '', 'the token left the address bar');
    assert.equal(
      await page.evaluate('sessionStorage.getItem("ccr.token")'),
      e2e.serve.token,
      'kept in session storage',
    );
  });

  it('the sign-in box refuses a wrong token and accepts the right one', async () => {
    const other = await browser.newContext();
    try {
      const p = await other.newPage();
      await p.goto(`${e2e.serve.url}/`);
      const box = p.getByLabel('API token');
      await box.fill('ccr_not_the_token');
      await p.getByRole('button', { name: 'Sign in' }).click();
      assert.match(await p.getByRole('alert').innerText(), /not valid/);
      await box.fill(e2e.serve.token);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { name: 'Sessions' }).waitFor();
    } finally {
      await other.close();
    }
  });

  it('creates a session from the form and follows it live: streamed text, tool cards, summary, phases', async () => {
    const name = await createFromForm('[[scenario:web-tools]] make a greeting');
    // Text appears while it streams: part of it is there before the whole is, and before any result.
    const streaming = page.locator('.md.streaming');
    await streaming.waitFor({ timeout: 90_000 });
    const partial = await streaming.innerText();
    assert.ok(
      STREAMED.replace(/\*\*/g, '').startsWith(partial.replace(/▍$/, '').trim().slice(0, 10)),
    );
    assert.equal(await page.locator('[data-kind="result"]').count(), 0, 'no turn result yet');

    await waitForPhase('Completed');
    await page.getByTestId('summary').waitFor();
    await screenshot(page, 'session.png');

    const md = (await text('[data-kind="text"]')).join('\n');
    assert.match(md, /Let me set up the greeting\./);
    assert.equal(
      await page.locator('[data-kind="text"] strong').first().innerText(),
      'the greeting',
    );
    assert.ok(
      await page.locator('[data-kind="text"] pre code.hljs').count(),
      'a highlighted code block',
    );

    const write = page.locator('[data-tool="Write"]');
    assert.match(await write.innerText(), /greet\.sh[\s\S]*echo "hello from the web"/);
    const read = page.locator('[data-tool="Read"]');
    assert.equal(await read.locator('.tool-arg').innerText(), 'greet.sh', 'paths shown relative');
    assert.ok(await read.evaluate((el) => el.classList.contains('compact')), 'Read is compact');
    const diff = page.locator('[data-tool="Edit"] [data-kind="diff"]');
    assert.match(await diff.locator('.del').innerText(), /^- echo "hello from the web"/);
    assert.match(await diff.locator('.add').innerText(), /^\+ echo "hello from the browser"/);
    const thinking = page.locator('details[data-kind="thinking"]');
    assert.equal(await thinking.count(), 1);
    assert.equal(
      await thinking.evaluate((d) => (d as { open?: boolean }).open),
      false,
      'collapsed',
    );
    assert.match((await thinking.textContent()) ?? '', /write it, check it, run it/);
    const failed = page.locator('[data-tool="Bash"]').nth(1);
    assert.ok(
      await failed.evaluate((el) => el.classList.contains('error')),
      'a failed call is marked',
    );
    assert.equal(await failed.locator('[data-field="exit"]').innerText(), 'exit 3');
    const bash = page.locator('[data-tool="Bash"]').first();
    assert.match(await bash.locator('.cmd').innerText(), /sh greet\.sh/);
    assert.match(await bash.locator('.out').innerText(), /hello from the browser/);
    assert.equal(await bash.locator('[data-field="exit"]').innerText(), 'exit 0');

    // What the session changed, file by file: greet.sh written, then edited.
    const change = page.getByTestId('changes').locator('[data-file="greet.sh"]');
    await change.locator('summary').click();
    assert.match(await change.locator('.add').first().innerText(), /\+ echo "hello from the web"/);
    assert.equal(await change.locator('[data-kind="diff"]').count(), 2, 'the Write and the Edit');

    assert.match(
      await page.getByTestId('summary').innerText(),
      /turns[\s\S]*tokens[\s\S]*cost[\s\S]*duration/,
    );
    const phases = await page.getByTestId('phases').locator('li').allInnerTexts();
    assert.deepEqual(phases, ['Pending', 'Creating', 'Running', 'Completed']);

    const h = await history(e2e.serve, name);
    assert.match(
      await page.getByTestId('entry-count').innerText(),
      new RegExp(`^${h.length} entries`),
    );

    // The list shows it, live.
    await page.goto(`${e2e.serve.url}/#/p/${PROJECT}`);
    const row = page.locator(`tr[data-session="${name}"]`);
    await row.waitFor();
    assert.equal(await row.locator('[data-field="phase"]').innerText(), 'Completed');
    assert.equal(await page.locator('text=Loading…').count(), 0);
  });

  it('shows what the model prints as text: no script, no handler, no javascript: link runs', async () => {
    xssSession = await createFromForm('[[scenario:web-xss]] say something nasty');
    await waitForPhase('Completed');
    const block = page.locator('[data-kind="text"]').filter({ hasText: 'done.' });
    await block.waitFor();
    const shown = await block.innerText();
    assert.match(
      shown,
      /<script>window.__pwned = "script"<\/script>/,
      'the script is shown as text',
    );
    assert.match(shown, /<img src=x onerror=/, 'the img tag is shown as text');
    assert.match(shown, /a link/);
    await page
      .locator('[data-kind="text"] a', { hasText: 'a link' })
      .click({ timeout: 2000 })
      .catch(() => undefined);
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    assert.equal(
      await page.locator('.timeline script, .timeline img, .timeline [onerror]').count(),
      0,
    );
    assert.equal(await page.locator('.timeline a[href^="javascript"]').count(), 0);
  });

  it('an interactive session: send a message, interrupt, end', async () => {
    await createFromForm('[[scenario:web-chat]] hello web', true);
    await page
      .locator('[data-kind="text"]', { hasText: 'Hi from the web.' })
      .waitFor({ timeout: 90_000 });
    await page.locator('[data-kind="waiting"]').first().waitFor();
    const box = page.getByLabel('Message to the session');
    await box.fill('take your time');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('[data-kind="user"]', { hasText: 'take your time' }).waitFor();
    await page.locator('.md.streaming', { hasText: 'This is a very' }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Interrupt' }).click();
    await page.locator('[data-event="turn.interrupted"]').waitFor({ timeout: 30_000 });
    assert.equal(
      await page.locator('[data-kind="text"]', { hasText: 'its last words never come' }).count(),
      0,
      'the interrupted answer did not finish',
    );
    await page.getByRole('button', { name: 'End', exact: true }).click();
    await waitForPhase('Completed', 60_000);
    assert.equal(
      await page.getByLabel('Message to the session').count(),
      0,
      'no message box once ended',
    );
  });

  it('serve killed and restarted mid-session: the page reconnects and shows every entry once, in order', async () => {
    const name = await createFromForm('[[scenario:web-slow]] survive a restart');
    await page.locator('[data-tool="Bash"]').first().waitFor({ timeout: 90_000 });
    await e2e.killServe();
    await page.getByTestId('connection').filter({ hasText: 'reconnecting' }).waitFor();
    await e2e.restartServe();
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor({ timeout: 30_000 });
    await waitForPhase('Completed');
    const h = await history(e2e.serve, name);
    await waitFor(
      async () =>
        (await page.getByTestId('entry-count').innerText()).startsWith(`${h.length} entries`),
      'the page to hold the whole history',
    );
    assert.equal(
      await page.getByTestId('entry-count').innerText(),
      `${h.length} entries · last seq ${h.at(-1)!.seq}`,
    );
    const outputs = await page.locator('[data-tool="Bash"] .out').allInnerTexts();
    assert.deepEqual(
      outputs.map((o) => o.trim()),
      ['step-0', 'step-1', 'step-2', 'step-3'],
    );

    await page.goto(`${e2e.serve.url}/#/p/${PROJECT}`);
    await page.locator('tr[data-session]').nth(3).waitFor();
    await screenshot(page, 'sessions.png');
  });

  it('nests sub-agent work under the call that started it', async () => {
    await createFromForm('[[scenario:web-agent]] delegate the echo');
    await waitForPhase('Completed');
    const agent = page.locator('[data-tool="Agent"]');
    const nested = agent.locator('[data-kind="nested"] [data-tool="Bash"]');
    await nested.waitFor();
    assert.match(await nested.locator('.out').innerText(), /sub-bash/);
    assert.equal(
      await page.locator('.timeline > [data-tool="Bash"]').count(),
      0,
      'the sub-agent call is not at the top level',
    );
  });

  it('the list: filter by phase, continue an ended session, delete after confirming', async () => {
    await page.goto(`${e2e.serve.url}/#/p/${PROJECT}`);
    await page.locator('tr[data-session]').first().waitFor();
    await page.getByLabel('Filter by phase').selectOption('Running');
    await page.getByText('No sessions in phase Running yet.').waitFor();
    await page.getByLabel('Filter by phase').selectOption('');
    const row = page.locator(`tr[data-session="${xssSession}"]`);
    await row.getByRole('button', { name: 'Continue' }).click();
    // Live, without a reload: the row goes through a new run back to Completed.
    await row.getByRole('button', { name: 'Stop' }).waitFor({ timeout: 30_000 });
    await row.getByRole('button', { name: 'Continue' }).waitFor({ timeout: 90_000 });
    assert.equal(await row.locator('[data-field="phase"]').innerText(), 'Completed');
    const before = await page.locator('tr[data-session]').count();
    await row.getByRole('button', { name: 'Delete' }).click(); // the dialog is accepted
    await row.waitFor({ state: 'detached' });
    assert.match(dialogs.at(-1) ?? '', new RegExp(`Delete session ${xssSession}`), 'asked first');
    assert.equal(await page.locator('tr[data-session]').count(), before - 1);
    assert.equal(
      (await e2e.serve.api('GET', `/projects/${PROJECT}/agentic-sessions/${xssSession}`)).status,
      404,
    );
  });

  it('works from the keyboard, reads at phone width, and in dark', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${e2e.serve.url}/#/p/${PROJECT}`);
    await page.reload(); // focus starts from the top of the page
    await page.locator('tr[data-session]').first().waitFor();
    const overflow = async () =>
      (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok((await overflow()) <= 0, 'no sideways scrolling in the list at 390 px');
    // Tab from the top reaches "New session"; Enter opens the form with the prompt focused.
    let reached = false;
    for (let i = 0; i < 8 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate('document.activeElement?.textContent')) === 'New session';
    }
    assert.ok(reached, 'New session is reachable with Tab');
    await page.keyboard.press('Enter');
    await page.getByLabel('Prompt').waitFor();
    await waitFor(
      async () => (await page.evaluate('document.activeElement?.name')) === 'prompt',
      'the prompt to take the focus',
      5_000,
    );

    await page.emulateMedia({ colorScheme: 'dark' });
    const first = await page.locator('tr[data-session] a').last().getAttribute('href');
    await page.goto(`${e2e.serve.url}/${first}`);
    await page.getByTestId('summary').waitFor();
    assert.ok((await overflow()) <= 0, 'no sideways scrolling in a session at 390 px');
    const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    assert.equal(bg, 'rgb(13, 17, 23)', 'the dark scheme');
    await screenshot(page, 'session-phone-dark.png');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1100, height: 800 });
  });

  it('never puts the token in a URL it sends', () => {
    assert.ok(
      urls.some((u) => u.includes('/ws?after_seq=')),
      'the page used the socket',
    );
    const leaked = urls.filter((u) => u.includes(e2e.serve.token) && !u.includes('#token='));
    assert.deepEqual(leaked, []);
  });
});

function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

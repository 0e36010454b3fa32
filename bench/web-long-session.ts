/**
 * web_open_10k_ms and web_scroll_frame_p99_ms: the web page (docs/web.md) in chromium opens a
 * session with 10,000 history entries (text with Markdown and code, Bash calls and their
 * results, written through the hub by a played runner), and is timed until it holds them all;
 * then its timeline is scrolled from the bottom to the top and back, revealing earlier pages, and
 * the frames' durations are measured in the browser (requestAnimationFrame intervals). Figures
 * are reported, not goals.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { FrameDraft } from '../src/protocol/frames.js';
import { RunnerPlayer } from './clients.js';
import { waitForHistory } from './fanout.js';
import {
  deleteSession,
  heldRun,
  serveEnv,
  startBenchServe,
  type BenchContext,
} from './fixtures.js';
import { PROJECT } from '../src/testing/session-api.js';

const CHROMIUM = '/usr/bin/chromium';

export interface WebLongSessionResult {
  web_open_10k_ms: number;
  web_scroll_frame_p99_ms: number;
  details: {
    entries: number;
    frames_measured: number;
    longest_frame_ms: number;
    dom_nodes: number;
  };
}

/** Entry i of a realistic mix: text (Markdown with code), a Bash call, its result. */
function frame(i: number): FrameDraft {
  const k = Math.floor(i / 3);
  switch (i % 3) {
    case 0:
      return {
        type: 'agent.message',
        payload: {
          type: 'agent_message',
          content: {
            type: 'text_block',
            text: `Step **${k}**: checking the build.\n\n\`\`\`ts\nconst step = ${k};\nconsole.log(step);\n\`\`\``,
          },
        },
      };
    case 1:
      return {
        type: 'agent.message',
        payload: { tool: 'Bash', id: `toolu_${k}`, input: { command: `echo step-${k}` } },
      };
    default:
      return {
        type: 'agent.message',
        payload: {
          tool_result: { tool_use_id: `toolu_${k}`, content: `step-${k}`, is_error: false },
        },
      };
  }
}

export async function webLongSession(
  ctx: BenchContext,
  opts: { entries: number },
): Promise<WebLongSessionResult> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`,
    );
  const serve = await startBenchServe(serveEnv(ctx), { idle: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const run = await heldRun(serve, { prompt: 'a long session' });
    const player = new RunnerPlayer(run.socketUrl, run.env.BOT_TOKEN!);
    try {
      await player.connected();
      for (let i = 0; i < opts.entries; i++) player.send(frame(i));
      await player.flush(600_000);
    } finally {
      await player.close();
    }
    const entries = await waitForHistory(serve, run.name);
    ctx.log(`  ${entries} entries persisted`);

    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.goto(`${serve.url}/#token=${encodeURIComponent(serve.token)}`);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    const start = Date.now();
    await page.goto(`${serve.url}/#/p/${PROJECT}/s/${run.name}`);
    await page
      .getByTestId('entry-count')
      .filter({ hasText: new RegExp(`^${entries} entries`) })
      .waitFor({ timeout: 120_000 });
    const openMs = Date.now() - start;

    // Scroll to the top (revealing earlier pages) and back, timing every frame in the page.
    const frames = (await page.evaluate(`(async () => {
      const el = document.querySelector('.timeline');
      const times = [];
      let last = performance.now();
      let running = true;
      const tick = (t) => { times.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
      const step = () => new Promise((r) => requestAnimationFrame(() => r()));
      for (let round = 0; round < 5; round++) {
        while (el.scrollTop > 0) { el.scrollTop = Math.max(0, el.scrollTop - 400); await step(); }
        const more = document.querySelector('.earlier');
        if (more) { more.click(); await step(); }
      }
      while (el.scrollTop + el.clientHeight < el.scrollHeight - 1) { el.scrollTop += 400; await step(); }
      running = false;
      return times.slice(1);
    })()`)) as number[];
    const nodes = (await page.evaluate('document.getElementsByTagName("*").length')) as number;
    const sorted = [...frames].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
    await deleteSession(serve, run.name);
    return {
      web_open_10k_ms: openMs,
      web_scroll_frame_p99_ms: p99,
      details: {
        entries,
        frames_measured: frames.length,
        longest_frame_ms: sorted.at(-1) ?? 0,
        dom_nodes: nodes,
      },
    };
  } finally {
    await browser.close();
    await serve.stop();
  }
}

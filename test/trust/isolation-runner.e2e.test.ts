/**
 * The runner alone (real process, real CLI, scripted model, fake backend) where the sandbox's
 * tools are missing: with RUNNER_SANDBOX=required the run fails before the agent does anything,
 * with a status that names the fix; with `auto` it runs, and says its commands are unsandboxed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { harness, runToEnd, type Harness } from '../runner/harness.js';

let h: Harness;
let bareBin: string;

before(async () => {
  h = await harness();
  // A PATH with git but without bwrap and socat.
  bareBin = path.join(h.root, 'bare-bin');
  mkdirSync(bareBin);
  symlinkSync('/usr/bin/git', path.join(bareBin, 'git'));
});
after(async () => {
  await h?.cleanup();
});

const phases = () => h.backend.statuses.map((s) => s.phase);

describe('a runner whose machine lacks bubblewrap', () => {
  it('required: fails with the fix, before any model call', async () => {
    h.backend.reset();
    const served = h.model.served.length;
    const res = await runToEnd(h.env, {
      PATH: bareBin,
      RUNNER_SANDBOX: 'required',
      PROMPT: '[[scenario:hello]] hi',
    });
    assert.equal(res.code, 1, res.stderr);
    const last = h.backend.statuses.at(-1) as { phase?: string; message?: string } | undefined;
    assert.equal(last?.phase, 'Failed', JSON.stringify(phases()));
    assert.match(
      last?.message ?? '',
      /the sandbox is required \(RUNNER_SANDBOX=required\) but bwrap and socat are not installed: install them \(apt-get install bubblewrap socat\)/,
    );
    assert.equal(h.model.served.length, served, 'the model was never called');
  });

  it('auto: runs, and says the commands are not sandboxed', async () => {
    h.backend.reset();
    const res = await runToEnd(h.env, {
      PATH: bareBin,
      RUNNER_SANDBOX: 'auto',
      PROMPT: '[[scenario:hello]] hi',
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout + res.stderr,
      /the agent's commands run without the sandbox: bwrap and socat are not installed/,
    );
  });
});

/** `claude-code-runner --version` prints package.json's version (an image's smoke test relies on it). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('claude-code-runner --version', () => {
  for (const flag of ['--version', '-v'])
    it(`${flag} prints the package version and exits 0`, () => {
      const out = execFileSync(process.execPath, [cli, flag], { encoding: 'utf8' });
      assert.match(pkg.version, /^\d+\.\d+\.\d+/);
      assert.equal(out, `${pkg.version}\n`);
    });
});

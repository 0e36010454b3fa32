/**
 * MCP configuration: which `.mcp.json` is used, which servers are accepted (http, sse; stdio
 * only with the opt-in), and a malformed file as a warning that does not stop the session.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createBareRepo, makeTempDir, removeDir } from '../../src/testing/git-fixtures.js';
import { loadMcpConfig } from '../../src/workspace/mcp.js';
import { createHarness } from './helpers.js';

const MIXED = {
  mcpServers: {
    docs: { type: 'http', url: 'https://mcp.example.test/mcp', headers: { 'X-Team': 'a' } },
    events: { type: 'sse', url: 'http://127.0.0.1:7000/sse' },
    local: { command: 'node', args: ['server.js'], env: { DEBUG: '1' } },
    weird: { type: 'websocket', url: 'ws://x' },
    'bad name': { type: 'http', url: 'https://x.test' },
    nourl: { type: 'http' },
    ftp: { type: 'sse', url: 'ftp://x.test' },
  },
};

test('http and sse accepted, stdio only with the opt-in, bad entries refused with a warning each', async () => {
  const dir = await makeTempDir();
  try {
    await fs.writeFile(path.join(dir, '.mcp.json'), JSON.stringify(MIXED));
    const warnings: string[] = [];
    const off = await loadMcpConfig({
      cwd: dir,
      root: dir,
      allowStdio: false,
      warn: (m) => warnings.push(m),
    });
    assert.deepEqual(Object.keys(off.servers), ['docs', 'events']);
    assert.deepEqual(off.servers.docs, {
      type: 'http',
      url: 'https://mcp.example.test/mcp',
      headers: { 'X-Team': 'a' },
    });
    assert.deepEqual(off.allowedTools, ['mcp__docs', 'mcp__events']);
    assert.equal(warnings.length, 5, warnings.join('\n'));
    assert.ok(warnings.some((w) => /"local" refused: stdio servers .* MCP_ALLOW_STDIO/.test(w)));
    assert.ok(warnings.some((w) => /"weird" refused: type "websocket" is not supported/.test(w)));
    assert.ok(warnings.some((w) => /"bad name" refused/.test(w)));
    assert.ok(warnings.some((w) => /"nourl" refused: a http server needs a "url"/.test(w)));
    assert.ok(warnings.some((w) => /"ftp" refused: "url" must be http\(s\)/.test(w)));

    const on = await loadMcpConfig({
      cwd: dir,
      root: dir,
      allowStdio: true,
      warn: () => undefined,
    });
    assert.deepEqual(on.servers.local, {
      type: 'stdio',
      command: 'node',
      args: ['server.js'],
      env: { DEBUG: '1' },
    });
    assert.ok(on.allowedTools.includes('mcp__local'));
  } finally {
    await removeDir(dir);
  }
});

test('through the manager: MCP_CONFIG_PATH, else the working directory, else the root; malformed is a warning', async () => {
  const h = await createHarness();
  try {
    const app = await createBareRepo(h.remotes, 'app.git', {
      branches: {
        main: {
          '.mcp.json': JSON.stringify({
            mcpServers: { repo: { type: 'http', url: 'https://repo.test/mcp' } },
          }),
        },
      },
    });
    await fs.mkdir(h.ws, { recursive: true });
    await fs.writeFile(
      path.join(h.ws, '.mcp.json'),
      JSON.stringify({ mcpServers: { root: { type: 'sse', url: 'https://root.test/sse' } } }),
    );
    const env = { REPOS_JSON: JSON.stringify([{ input: { url: app.url } }]) };

    // The working directory's file wins over the root's.
    const ws1 = await h.manager(env).manager.prepare();
    assert.deepEqual(ws1.extraAllowedTools, ['mcp__repo']);

    // MCP_CONFIG_PATH wins over both; stdio accepted with the opt-in from deps.
    const custom = path.join(h.root, 'custom.json');
    await fs.writeFile(
      custom,
      JSON.stringify({ mcpServers: { tool: { type: 'stdio', command: 'my-mcp' } } }),
    );
    const ws2 = await h
      .manager({ ...env, MCP_CONFIG_PATH: custom }, { allowStdioMcp: true })
      .manager.prepare();
    assert.deepEqual(Object.keys(ws2.mcpServers), ['tool']);
    assert.deepEqual(ws2.extraAllowedTools, ['mcp__tool']);

    // A malformed file: a warning on the progress sink, and the session goes on without servers.
    await fs.writeFile(custom, '{ "mcpServers": { oops');
    h.progress.length = 0;
    const ws3 = await h.manager({ ...env, MCP_CONFIG_PATH: custom }).manager.prepare();
    assert.deepEqual(ws3.mcpServers, {});
    assert.deepEqual(ws3.extraAllowedTools, []);
    const warn = h.progress.find((p) => p.level === 'warn');
    assert.match(
      warn?.message ?? '',
      /custom\.json: is not valid JSON .*continuing without MCP servers/,
    );

    // No file anywhere: nothing, and no warning.
    await fs.rm(path.join(h.ws, '.mcp.json'));
    await fs.rm(path.join(h.ws, 'app', '.mcp.json'));
    h.progress.length = 0;
    const ws4 = await h.manager({ ...env, PARENT_SESSION_ID: 'p' }).manager.prepare();
    assert.deepEqual(ws4.mcpServers, {});
    assert.ok(!h.progress.some((p) => p.level === 'warn'));
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});

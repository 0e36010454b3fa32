// The parts the test needs and does not find configured: the Langfuse stand-in (in-process, with
// generated keys) when no LANGFUSE_HOST is given, and a local control plane (`serve` as a child
// process, with the scripted model in-process unless ANTHROPIC_API_KEY is set) when no
// BACKEND_URL is given. Each part registers its own cleanup with the caller's `owned` list.
import { randomBytes } from 'node:crypto';
import type { LangfuseE2eConfig } from '../../config/langfuse-e2e-config.js';
import { startServe } from '../../testing/serve-process.js';
import { startLangfuseStandin } from '../../testing/langfuse-standin/index.js';
import { startScriptedModelServer } from '../../testing/scripted-model/index.js';
import type { LangfuseTarget } from './langfuse-api.js';
import type { Report } from './report.js';

export type Cleanup = () => Promise<void>;

export interface Backend {
  url: string;
  token: string;
  /** Where the token came from, for the "Got API token" line. */
  tokenSource: string;
}

export async function setUpLangfuse(
  config: LangfuseE2eConfig,
  report: Report,
  owned: Cleanup[],
): Promise<LangfuseTarget> {
  const lf = config.langfuse;
  if (lf.kind === 'external') {
    report.line(
      `Using Langfuse at ${lf.host} (public key length: ${lf.publicKey.length}, secret key length: ${lf.secretKey.length})`,
    );
    return { host: lf.host, publicKey: lf.publicKey, secretKey: lf.secretKey };
  }
  report.line('Starting the local Langfuse stand-in (no LANGFUSE_HOST given)');
  const standin = await startLangfuseStandin({
    publicKey: `pk-lf-e2e-${randomBytes(12).toString('hex')}`,
    secretKey: `sk-lf-e2e-${randomBytes(18).toString('hex')}`,
    maxRecorded: 100_000,
  });
  owned.push(() => standin.close());
  report.addSecrets(standin.publicKey, standin.secretKey);
  report.ok(`Langfuse stand-in listening: ${standin.url} (keys generated for this run)`);
  return { host: standin.url, publicKey: standin.publicKey, secretKey: standin.secretKey };
}

export async function setUpBackend(
  config: LangfuseE2eConfig,
  langfuse: LangfuseTarget,
  report: Report,
  owned: Cleanup[],
): Promise<Backend> {
  const b = config.backend;
  if (b.kind === 'external') {
    report.line(`Using the control plane at ${b.url} (its runners must have LANGFUSE_* set)`);
    return { url: b.url, token: b.token, tokenSource: ` from ${b.tokenVariable}` };
  }

  // undefined removes a variable from serve's environment (see startServe).
  const env: Record<string, string | undefined> = Object.fromEntries(
    b.dropFromServe.map((k) => [k, undefined]),
  );
  if (b.model === 'scripted') {
    const model = await startScriptedModelServer({ quiet: true, maxRecorded: 1000 });
    owned.push(() => model.close());
    // Not a credential: the scripted model accepts any key, and the CLI insists on one.
    env.ANTHROPIC_BASE_URL = model.url;
    env.ANTHROPIC_API_KEY = 'scripted-model-offline-key';
    env.CLAUDE_CODE_MAX_RETRIES = '1';
  }
  report.line(
    `Starting a local control plane (claude-code-runner serve, ${b.model === 'scripted' ? 'scripted model' : 'Anthropic API'})`,
  );
  const serve = await startServe({
    ...(b.token ? { token: b.token } : {}),
    env: {
      ...env,
      // serve passes LANGFUSE_* on to every runner (src/config/serve-config.ts): the session is
      // traced into the Langfuse this test reads (unmasked: masking would hide the marker).
      LANGFUSE_ENABLED: 'true',
      LANGFUSE_HOST: langfuse.host,
      LANGFUSE_PUBLIC_KEY: langfuse.publicKey,
      LANGFUSE_SECRET_KEY: langfuse.secretKey,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
  });
  owned.push(() => serve.stop());
  report.addSecrets(serve.token);
  report.ok(`Control plane listening: ${serve.url}`);
  return {
    url: serve.url,
    token: serve.token,
    tokenSource: b.tokenVariable ? ` from ${b.tokenVariable}` : ' of the local control plane',
  };
}

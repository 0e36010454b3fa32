/**
 * Git credentials. Which token: GITLAB_TOKEN for GitLab remotes, GITHUB_TOKEN for GitHub and for
 * any other http(s) host (e.g. a loopback test server); when that variable is not set, a token
 * minted once by the backend (`POST …/github/token`). ssh and file remotes get none.
 *
 * How it reaches git: never in a URL, a file or an argument. Each git child gets, in its
 * environment only,
 *
 *   GIT_CONFIG_COUNT=2
 *   GIT_CONFIG_KEY_0=credential.helper            GIT_CONFIG_VALUE_0=            (drop other helpers)
 *   GIT_CONFIG_KEY_1=credential.<origin>.helper   GIT_CONFIG_VALUE_1=!f() { … echo "password=$CCR_GIT_TOKEN_0"; }; f
 *   CCR_GIT_USERNAME_0=x-access-token  CCR_GIT_TOKEN_0=<token>
 *
 * so the helper answers only for that origin (scheme, host and port), reads the token from the
 * environment, and ignores `store`/`erase` (nothing is written to disk). The same mechanism,
 * with one entry per origin, is what the agent's shell gets (`cliEnv`), plus GH_TOKEN /
 * GITLAB_TOKEN for the gh and glab tools.
 */
import { forgeKind, type ForgeApis, type ForgeKind, type RemoteInfo } from './forge.js';

export type TokenSource = 'GITHUB_TOKEN' | 'GITLAB_TOKEN' | 'minted' | 'none';

export interface ResolvedCredential {
  kind: ForgeKind;
  username: string;
  token?: string;
  source: TokenSource;
}

export interface GitCredentialsOptions {
  githubToken?: string;
  gitlabToken?: string;
  apis: ForgeApis;
  /** Asks the backend for a token; undefined when it cannot mint one. */
  mint: () => Promise<string | undefined>;
  /** Called once with a freshly minted token (to extend the redactor). */
  onMinted: (token: string) => void;
  /** A non-fatal problem (e.g. minting failed). */
  warn: (message: string) => void;
}

export class GitCredentials {
  private minting: Promise<string | undefined> | undefined;
  private mintedToken: string | undefined;

  constructor(private readonly opts: GitCredentialsOptions) {}

  /** Tokens obtained at run time (not from the configuration): the caller must redact them. */
  get mintedTokens(): string[] {
    return this.mintedToken ? [this.mintedToken] : [];
  }

  kindOf(remote: RemoteInfo): ForgeKind {
    return forgeKind(remote, this.opts.apis);
  }

  /** The token for `remote`'s forge: for git over http(s), and for its REST API (any scheme). */
  async resolve(remote: RemoteInfo): Promise<ResolvedCredential> {
    const kind = this.kindOf(remote);
    if (kind === 'none') return { kind, username: '', source: 'none' };
    const username = kind === 'gitlab' ? 'oauth2' : 'x-access-token';
    const configured = kind === 'gitlab' ? this.opts.gitlabToken : this.opts.githubToken;
    if (configured)
      return {
        kind,
        username,
        token: configured,
        source: kind === 'gitlab' ? 'GITLAB_TOKEN' : 'GITHUB_TOKEN',
      };
    const minted = await this.mint();
    return minted
      ? { kind, username, token: minted, source: 'minted' }
      : { kind, username, source: 'none' };
  }

  private mint(): Promise<string | undefined> {
    this.minting ??= this.opts.mint().then(
      (token) => {
        if (token) {
          this.mintedToken = token;
          this.opts.onMinted(token);
        }
        return token;
      },
      (e: unknown) => {
        this.opts.warn(
          `could not get a git token from the backend (${(e as Error).message}); continuing without one`,
        );
        return undefined;
      },
    );
    return this.minting;
  }

  /** Environment for one git child talking to `remote` (empty when no token applies). */
  async gitEnv(remote: RemoteInfo): Promise<Record<string, string>> {
    if (!remote.origin) return {}; // ssh uses keys; file needs nothing
    const cred = await this.resolve(remote);
    if (!cred.token) return {};
    return helperEnv([{ origin: remote.origin, username: cred.username, token: cred.token }]);
  }

  /**
   * Environment for the CLI (and so the agent's shell): a helper per origin of `remotes`, and
   * GH_TOKEN / GITLAB_TOKEN for the forge command-line tools. Never printed by us.
   */
  async cliEnv(remotes: RemoteInfo[]): Promise<Record<string, string>> {
    const entries: HelperEntry[] = [];
    const env: Record<string, string> = {};
    const seen = new Set<string>();
    for (const remote of remotes) {
      if (!remote.origin || seen.has(remote.origin)) continue;
      seen.add(remote.origin);
      const cred = await this.resolve(remote);
      if (!cred.token) continue;
      entries.push({ origin: remote.origin, username: cred.username, token: cred.token });
      if (cred.kind === 'gitlab') env.GITLAB_TOKEN ??= cred.token;
      else env.GH_TOKEN ??= cred.token;
    }
    return { ...env, ...(entries.length ? helperEnv(entries) : {}), GIT_TERMINAL_PROMPT: '0' };
  }

  /** Where the token for `remote` came from, for error messages ("check GITHUB_TOKEN"). */
  static advice(cred: ResolvedCredential): string {
    switch (cred.source) {
      case 'GITHUB_TOKEN':
        return 'check that GITHUB_TOKEN is valid and can access this repository';
      case 'GITLAB_TOKEN':
        return 'check that GITLAB_TOKEN is valid and can access this repository';
      case 'minted':
        return "the token minted by the backend was refused: check the platform's git integration for this repository";
      default:
        return cred.kind === 'gitlab'
          ? 'no token was available: set GITLAB_TOKEN'
          : 'no token was available: set GITHUB_TOKEN';
    }
  }
}

interface HelperEntry {
  origin: string;
  username: string;
  token: string;
}

function helperScript(i: number): string {
  // Runs under `sh -c`; the values come from the environment, never from this text.
  return (
    '!f() { test "$1" = get || return 0; ' +
    `echo "username=$CCR_GIT_USERNAME_${i}"; echo "password=$CCR_GIT_TOKEN_${i}"; }; f`
  );
}

function helperEnv(entries: HelperEntry[]): Record<string, string> {
  const env: Record<string, string> = {
    GIT_CONFIG_COUNT: String(entries.length + 1),
    GIT_CONFIG_KEY_0: 'credential.helper',
    GIT_CONFIG_VALUE_0: '',
  };
  entries.forEach((e, i) => {
    env[`GIT_CONFIG_KEY_${i + 1}`] = `credential.${e.origin}.helper`;
    env[`GIT_CONFIG_VALUE_${i + 1}`] = helperScript(i);
    env[`CCR_GIT_USERNAME_${i}`] = e.username;
    env[`CCR_GIT_TOKEN_${i}`] = e.token;
  });
  return env;
}

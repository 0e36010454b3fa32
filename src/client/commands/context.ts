/** What every subcommand of `claude-code-runner session` is handed. */
import type { ClientConfig } from '../../config/client-config.js';
import type { Env } from '../../config/env.js';
import type { ApiClient } from '../api.js';
import type { Values } from '../args.js';
import type { Style } from '../render.js';
import type { OutStream } from '../terminal.js';

export interface ClientIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Env;
  cwd: string;
  readStdin(): Promise<string>;
  /** Aborts a running watch (Ctrl-C); main installs one when not given. */
  signal?: AbortSignal;
}

export interface Context {
  api: ApiClient;
  config: ClientConfig;
  values: Values;
  positionals: string[];
  json: boolean;
  style: Style;
  io: ClientIO;
  out(line: string): void;
}

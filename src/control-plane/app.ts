/**
 * Wires the control plane together: data dir, user token, store, hub, executor, run manager,
 * API. `startControlPlane` returns once it listens (and has adopted or failed the runs of a
 * previous serve); `close()` stops runners (unless kept), sockets, server and store, in that order,
 * so stopping runners can still report their final status.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SystemError } from '../errors.js';
import type { ServeConfig } from '../config/serve-config.js';
import type { Logger } from '../observability/logger.js';
import { API_PREFIX, socketUrl } from '../protocol/paths.js';
import { buildOpenApi } from './api/openapi.js';
import { Router } from './api/router.js';
import { buildRoutes } from './api/routes.js';
import { StaticSite } from './api/static.js';
import { applyCors } from './agui/cors.js';
import { Auth, loadUserToken, type LoadedUserToken } from './auth.js';
import { CommandDelivery } from './delivery/commands.js';
import { defaultRunnerCommand, LocalExecutor } from './executor/local.js';
import type { Executor } from './executor/types.js';
import { HistoryLog } from './hub/history-log.js';
import { Hub } from './hub/hub.js';
import { ControlPlaneRedactor } from './redaction.js';
import { RunManager } from './runs.js';
import { SessionService } from './sessions.js';
import { Store } from './store/index.js';

export interface ControlPlane {
  /** `http://host:port` */
  url: string;
  port: number;
  token: LoadedUserToken;
  close(): Promise<void>;
}

export const STORE_FILE = 'store.db';
export const LOCK_FILE = 'serve.pid';

export async function startControlPlane(
  config: Readonly<ServeConfig>,
  logger: Logger,
): Promise<ControlPlane> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  tighten(config.dataDir, logger);
  const lock = takeLock(config.dataDir);
  const token = loadUserToken(
    config.dataDir,
    config.token && config.tokenSource
      ? { token: config.token, source: config.tokenSource }
      : undefined,
  );
  const redactor = new ControlPlaneRedactor([...config.secrets, token.token]);
  const store = Store.open(path.join(config.dataDir, STORE_FILE));
  const auth = new Auth(token.token);
  const history = new HistoryLog(store, logger.child('history'));
  // Commands to runners have one owner, which both the session service and the hub use.
  const delivery = new CommandDelivery({
    store,
    history,
    redactor,
    logger: logger.child('delivery'),
  });
  const hub = new Hub({
    store,
    auth,
    history,
    delivery,
    redactor,
    logger: logger.child('hub'),
    maxFrameBytes: config.limits.maxFrameBytes,
    watcherMaxBufferedBytes: config.limits.watcherMaxBufferedBytes,
    historyPageSize: config.limits.historyPageSize,
    maxCatchingUp: config.limits.maxCatchingUp,
  });
  const executor: Executor =
    config.executor === 'kubernetes'
      ? // Loaded only in this mode: the Kubernetes client stays out of a local serve's start.
        await (
          await import('./executor/kubernetes-start.js')
        ).startKubernetesExecutor({
          ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
          logger: logger.child('executor'),
          session: (name) => store.sessions.get(name),
        })
      : new LocalExecutor({
          command: config.runnerCommand ? [...config.runnerCommand] : defaultRunnerCommand(),
          logDir: path.join(config.dataDir, 'logs'),
          logMaxBytes: config.limits.logMaxBytes,
          logger: logger.child('executor'),
          hidden: [config.dataDir],
        });
  let port = config.port;
  const base = () => `http://${config.advertiseHost}:${port}`;
  const runs = new RunManager({
    store,
    executor,
    auth,
    hub,
    history,
    delivery,
    logger: logger.child('runs'),
    redactor,
    maxConcurrent: config.maxConcurrent,
    graceMs: config.graceMs,
    inheritedEnv: config.runnerEnv,
    apiUrl: () => `${base()}/api`,
    socketUrl: (project, session) => socketUrl(`${base()}${API_PREFIX}`, project, session),
  });
  const service = new SessionService({
    store,
    runs,
    history,
    delivery,
    executor,
    redactor,
    logger: logger.child('sessions'),
    dataDir: config.dataDir,
    ...(config.githubToken ? { githubToken: config.githubToken } : {}),
    historyPageSize: config.limits.historyPageSize,
    limits: config.sessionLimits,
  });
  const version = packageVersion();
  let openapi: unknown;
  const routes = buildRoutes(
    service,
    {
      version,
      openapi: () => (openapi ??= buildOpenApi(routes, version)),
    },
    {
      history,
      gate: hub.catchUpGate,
      readStep: (s, afterPos, maxRows, maxBytes) =>
        store.frames.readStep(s, afterPos, maxRows, maxBytes),
      pageSize: config.limits.historyPageSize,
      maxBufferedBytes: config.limits.watcherMaxBufferedBytes,
      logger: logger.child('agui'),
      sessionExists: (session) => store.sessions.get(session) !== undefined,
    },
  );
  const router = new Router(routes, {
    auth,
    logger: logger.child('api'),
    maxBodyBytes: config.limits.maxBodyBytes,
    parentOf: (session) => store.sessions.get(session)?.spec.parent_session_id,
    projectOf: (session) => store.sessions.get(session)?.project,
  });

  const site = new StaticSite();
  const server = createServer((req, res) => {
    if (applyCors(req, res, config.corsOrigins)) return;
    if (!site.handle(req, res)) void router.dispatch(req, res);
  });
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  try {
    await listen(server, config.port, config.host);
  } catch (e) {
    executor.close();
    store.close();
    lock.release();
    throw new SystemError(
      'config',
      `cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  port = (server.address() as AddressInfo).port;
  runs.recover(); // same tick as listen's callback: no request is handled before tokens are restored

  let closing: Promise<void> | undefined;
  return {
    url: base(),
    port,
    token,
    close: () =>
      (closing ??= (async () => {
        await runs.shutdown(config.keepRunners);
        await hub.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        executor.close();
        store.close();
        lock.release();
      })()),
  };
}

/**
 * The data dir holds the user token, the store (sessions' environment variables) and runs'
 * output: only its owner may enter it, also when it existed before (mkdir's mode applies only to
 * a new directory).
 */
function tighten(dataDir: string, logger: Logger): void {
  try {
    if ((statSync(dataDir).mode & 0o777) !== 0o700) {
      chmodSync(dataDir, 0o700);
      logger.info(`data dir ${dataDir} was readable by others: now mode 0700`);
    }
  } catch (e) {
    logger.warn(`cannot make the data dir ${dataDir} private (mode 0700): ${(e as Error).message}`);
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** One serve per data dir: a second one would run every queued session twice. */
function takeLock(dataDir: string): { release(): void } {
  const file = path.join(dataDir, LOCK_FILE);
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isServe(pid))
      throw new SystemError(
        'config',
        `another serve (pid ${pid}) is using ${dataDir}: stop it, or use another --data-dir`,
      );
  }
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return {
    release: () => {
      try {
        if (readFileSync(file, 'utf8').trim() === String(process.pid))
          rmSync(file, { force: true });
      } catch {
        /* already gone */
      }
    },
  };
}

function isServe(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('serve');
  } catch {
    return true; // alive, and no /proc to tell: assume it is
  }
}

function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'claude-code-runner') return pkg.version ?? '0.0.0';
      } catch {
        /* keep looking */
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

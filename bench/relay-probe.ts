/**
 * Preloaded into a real runner (`node --import …/relay-probe.js …/cli/main.js run`) by the
 * relay-latency benchmark: it notes the moment each SDK message reaches the runner
 * (process.hrtime, CLOCK_MONOTONIC: comparable with the watcher's clock in another process of the
 * same machine) and which frames that message became, and writes `[[seq, ns], …]` to
 * $BENCH_RELAY_STAMPS when the process exits. It changes no frame and costs one hrtime read and
 * one array push per frame; nothing of it is loaded outside this benchmark.
 */
import { writeFileSync } from 'node:fs';
import { RunnerSocket } from '../src/runner/socket-client.js';
import { SessionRunner } from '../src/runner/session-runner.js';

const out = process.env.BENCH_RELAY_STAMPS;
if (out) {
  const stamps: [number, string][] = [];
  let receivedNs: bigint | null = null;
  type Method = (this: unknown, ...args: unknown[]) => unknown;
  const runner = SessionRunner.prototype as unknown as Record<string, Method>;
  const socket = RunnerSocket.prototype as unknown as Record<string, Method>;
  const onSdkMessage = runner.onSdkMessage;
  const send = socket.send;
  if (typeof onSdkMessage !== 'function' || typeof send !== 'function')
    throw new Error(
      'relay-probe: SessionRunner.onSdkMessage or RunnerSocket.send is gone; update bench/relay-probe.ts',
    );
  runner.onSdkMessage = function (this: unknown, ...args: unknown[]) {
    receivedNs = process.hrtime.bigint();
    try {
      return onSdkMessage.apply(this, args);
    } finally {
      receivedNs = null;
    }
  };
  socket.send = function (this: unknown, ...args: unknown[]) {
    const seq = send.apply(this, args);
    if (receivedNs !== null && typeof seq === 'number') stamps.push([seq, String(receivedNs)]);
    return seq;
  };
  process.once('exit', () => writeFileSync(out, JSON.stringify(stamps)));
}

/** The machine a run was measured on: the figures mean little without it. */
import os from 'node:os';

export interface Machine {
  cores: number;
  cpu: string;
  memory_gb: number;
  node: string;
  platform: string;
  /** 1/5/15-minute load averages when the run started (other work on the machine shows here). */
  load_at_start: number[];
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    load_at_start: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/**
 * The node agent on its own, beside a control plane started by `scripts/k8s.sh start`:
 *
 *   node dist/src/testing/k8s/node-agent-main.js [--kubeconfig FILE] [--node NAME] [--data-dir DIR]
 *
 * KUBECONFIG (or --kubeconfig) names an admin kubeconfig whose server is on 127.0.0.1; the agent
 * registers its Node and runs the pods bound to it until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { NodeAgent } from './node-agent.js';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      node: { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  const kc = new KubeConfig();
  const file = values.kubeconfig ?? process.env.KUBECONFIG;
  if (!file) {
    process.stderr.write('node-agent: pass --kubeconfig FILE or set KUBECONFIG\n');
    return 2;
  }
  kc.loadFromFile(file);
  const server = new URL(kc.getCurrentCluster()?.server ?? '');
  if (server.hostname !== '127.0.0.1') {
    process.stderr.write(`node-agent: the API must be on 127.0.0.1, not ${server.hostname}\n`);
    return 2;
  }
  const agent = new NodeAgent({
    kubeConfig: kc,
    apiPort: Number(server.port || 443),
    nodeName: values.node,
    dataDir: values['data-dir'],
    log: (line) => process.stderr.write(`${line}\n`),
  });
  await agent.start();
  process.stderr.write(`node-agent: Node ${agent.nodeName} ready, data in ${agent.dataDir}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await agent.stop();
  return 0;
}

process.exitCode = await main(process.argv.slice(2));

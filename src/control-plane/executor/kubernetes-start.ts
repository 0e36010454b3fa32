/** Builds and starts the Kubernetes executor (a separate module so that it loads on demand). */
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../observability/logger.js';
import type { SessionRow } from '../store/index.js';
import { KubernetesExecutor } from './kubernetes.js';

export async function startKubernetesExecutor(o: {
  kubeconfig?: string;
  logger: Logger;
  session: (name: string) => SessionRow | undefined;
}): Promise<KubernetesExecutor> {
  const kc = new KubeConfig();
  if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
  else kc.loadFromCluster();
  const executor = new KubernetesExecutor({ kc, logger: o.logger, session: o.session });
  await executor.start();
  return executor;
}

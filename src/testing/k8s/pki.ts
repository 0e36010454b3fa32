/**
 * The certificates and keys a throwaway control plane needs, made with the `openssl` CLI (Node
 * cannot sign X.509 certificates itself): a CA, the apiserver's serving certificate for
 * 127.0.0.1, an admin client certificate in `system:masters`, the service-account signing key.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

export async function makePki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const f = (name: string): string => path.join(dir, name);
  const ssl = async (...args: string[]): Promise<void> => {
    await run('openssl', args, { cwd: dir });
  };
  await writeFile(
    f('ext.cnf'),
    [
      '[req]',
      'distinguished_name=dn',
      '[dn]',
      '[srv]',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'extendedKeyUsage=serverAuth',
      '[cli]',
      'extendedKeyUsage=clientAuth',
      '',
    ].join('\n'),
  );
  // EC keys: generating four RSA keys costs seconds on a busy 2-core machine.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  await ssl(
    'req',
    '-x509',
    ...ec,
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '30',
    '-subj',
    '/CN=claude-code-runner-test-ca',
  );
  await ssl(
    'req',
    ...ec,
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=kube-apiserver',
  );
  await ssl(
    'req',
    ...ec,
    '-nodes',
    '-keyout',
    'admin.key',
    '-out',
    'admin.csr',
    '-subj',
    '/CN=admin/O=system:masters',
  );
  const sign = async (name: string, ext: string): Promise<void> =>
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '30',
      '-extfile',
      'ext.cnf',
      '-extensions',
      ext,
    );
  await sign('server', 'srv');
  await sign('admin', 'cli');
  await ssl('genrsa', '-out', 'sa.key', '2048');
  await ssl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
  return {
    dir,
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    adminCert: f('admin.crt'),
    adminKey: f('admin.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
  };
}

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { makeTempDir } from './child-group.js';
import { requireBinary } from './components.js';

/**
 * A throwaway self-signed certificate for a loopback address (EC P-256, one day, subjectAltName IP:host,
 * which a client checking an IP address needs), as PEM files in a temporary directory removed at exit.
 */
export function selfSignedCertificate(host: string): { cert: string; key: string } {
  const dir = makeTempDir('ph-tls-');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(requireBinary('openssl'), ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${host}`,
    '-addext', `subjectAltName=IP:${host}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './child-group.js';
import { requireBinary } from './components.js';

/** PEM files of a certificate and its private key. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

const openssl = (args: string[], cwd?: string) => execFileSync(requireBinary('openssl'), args, { stdio: 'ignore', cwd });

/**
 * A throwaway self-signed certificate for a loopback address (EC P-256, one day, subjectAltName IP:host,
 * which a client checking an IP address needs), as PEM files in a temporary directory removed at exit.
 */
export function selfSignedCertificate(host: string): CertificateFiles {
  const dir = makeTempDir('ph-tls-');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  openssl(['req', '-x509', ...EC_KEY, '-days', '1', '-subj', `/CN=${host}`, '-addext', `subjectAltName=IP:${host}`, '-keyout', key, '-out', cert]);
  return { cert, key };
}

export interface IssueOptions {
  /** Common name of the subject. */
  commonName: string;
  /** subjectAltName entries, e.g. ['IP:127.0.0.1'] or ['DNS:localhost']; none leaves only the common name. */
  altNames?: readonly string[];
  /** Valid for a day from now (default), or a day in 2020, long expired. */
  validity?: 'current' | 'expired';
}

export interface CertificateAuthority {
  /** The CA's own certificate: what a client trusts (NODE_EXTRA_CA_CERTS). */
  cert: string;
  /** A server certificate signed by this CA (not containing the CA: the server sends the leaf only). */
  issue(options: IssueOptions): CertificateFiles;
}

/**
 * A throwaway private CA, as an operator's PBX certificates come from: `openssl ca`, whose -startdate and
 * -enddate also make an expired certificate (openssl 3.0's x509 has no -not_before).
 */
export function certificateAuthority(name = 'Presence Hub test CA'): CertificateAuthority {
  const dir = makeTempDir('ph-ca-');
  const cert = join(dir, 'ca.pem');
  const key = join(dir, 'ca-key.pem');
  openssl(['req', '-x509', ...EC_KEY, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign', '-keyout', key, '-out', cert]);
  mkdirSync(join(dir, 'issued'));
  writeFileSync(join(dir, 'index.txt'), '');
  // The extensions of the request (its subjectAltName) go into the certificate as asked.
  writeFileSync(join(dir, 'ca.cnf'), ['[ca]', 'default_ca = test', '[test]', 'database = index.txt', 'new_certs_dir = issued', 'rand_serial = yes',
    'unique_subject = no', 'default_md = sha256', 'policy = any', 'copy_extensions = copy', '[any]', 'commonName = supplied', ''].join('\n'));
  let serial = 0;
  return {
    cert,
    issue({ commonName, altNames = [], validity = 'current' }) {
      serial++;
      const leaf = { cert: join(dir, `server-${serial}.pem`), key: join(dir, `server-${serial}-key.pem`) };
      const csr = join(dir, `server-${serial}.csr`);
      const san = altNames.length ? ['-addext', `subjectAltName=${altNames.join(',')}`] : [];
      openssl(['req', '-new', ...EC_KEY, '-subj', `/CN=${commonName}`, ...san, '-addext', 'basicConstraints=CA:FALSE', '-keyout', leaf.key, '-out', csr]);
      const dates = validity === 'expired' ? ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'] : ['-days', '1'];
      openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', cert, '-keyfile', key, '-in', csr, '-out', leaf.cert, '-notext', ...dates], dir);
      return leaf;
    },
  };
}

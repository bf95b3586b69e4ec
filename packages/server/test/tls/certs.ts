/**
 * Certificates made at test time with the openssl CLI (no private key is committed): a CA, and
 * leaf certificates it signs for 127.0.0.1/localhost, usable as server and as client certificates.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestCa extends CertFiles {
  /** Signs a leaf certificate for 127.0.0.1 and localhost, written as `<name>.pem` and `<name>.key` (or to `at`). */
  issue(name: string, at?: CertFiles): CertFiles;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A scratch directory, removed by `cleanup`. */
export function certDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ollama-ring-tls-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A new CA in `dir`. */
export function makeCa(dir: string, name = 'test-ca'): TestCa {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return {
    cert,
    key,
    issue(leaf: string, at?: CertFiles): CertFiles {
      const out = at ?? { cert: join(dir, `${leaf}.pem`), key: join(dir, `${leaf}.key`) };
      const csr = join(dir, `${leaf}.csr`);
      const ext = join(dir, `${leaf}.ext`);
      writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', out.key, '-out', csr, '-subj', `/CN=${leaf}`]);
      const serial = `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`;
      openssl(['x509', '-req', '-in', csr, '-CA', cert, '-CAkey', key, '-set_serial', serial, '-out', out.cert, '-days', '2', '-extfile', ext]);
      return out;
    },
  };
}

/** The SHA-256 fingerprint of a PEM certificate file's first certificate, as `getPeerCertificate().fingerprint256` shows it. */
export function fingerprintOf(pem: string | Buffer): string {
  return new X509Certificate(pem).fingerprint256;
}

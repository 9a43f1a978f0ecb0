import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Without ENCRYPTION_KEY (allowed outside production), secrets at rest are sealed with a key kept in
 * the data directory, created on first start with owner-only permissions. Production must set the key.
 */
export function developmentKey(dataDir: string): Buffer {
  const file = join(dataDir, 'development-encryption.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64'), { mode: 0o600 });
  return key;
}

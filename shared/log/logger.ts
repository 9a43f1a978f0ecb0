import { pino, type Logger } from 'pino';

export type { Logger };

/** Header and field names whose values are secrets; pino replaces them wherever they appear. */
const REDACT = [
  'req.headers.authorization',
  'req.headers["x-presence-signature"]',
  'req.headers.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.key',
  '*.apiKey',
  '*.refreshToken',
  '*.accessToken',
  '*.clientSecret',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { service: 'presence-hub' }, redact: { paths: REDACT, censor: '[redacted]' } };
  return destination ? pino(options, destination as never) : pino(options);
}

export const silentLogger: Logger = pino({ level: 'silent' });

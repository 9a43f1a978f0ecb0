import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A real-shaped provider payload kept beside the connector's tests. */
export function fixture<T = Record<string, unknown>>(provider: 'microsoft' | 'google', name: string, replace: Record<string, string> = {}): T {
  let text = readFileSync(join('test', 'connectors', provider, 'fixtures', `${name}.json`), 'utf8');
  for (const [k, v] of Object.entries(replace)) text = text.split(k).join(v);
  return JSON.parse(text) as T;
}

import { z } from 'zod';

/** What the `presence-hub` command line reads from its environment (flags win). */
export const cliEnvSchema = z.object({
  PRESENCE_HUB_URL: z.url().default('http://127.0.0.1:8080'),
  PRESENCE_HUB_KEY: z.string().optional(),
});

export function loadCliEnv(env: Record<string, string | undefined>): z.infer<typeof cliEnvSchema> {
  return cliEnvSchema.parse(env);
}

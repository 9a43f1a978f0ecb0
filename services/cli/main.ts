#!/usr/bin/env node
import { run } from './apply-command.js';

run(process.argv.slice(2), process.env, (s) => process.stdout.write(`${s}\n`)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  },
);

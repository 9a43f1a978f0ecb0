import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from './loadgen.js';

export type { LoadOptions, LoadResult };

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The load generator in its own process (node --import tsx bench/lib/loadgen.ts), driven over IPC. */
export class LoadGen {
  private readonly child: ChildProcess;

  constructor() {
    this.child = fork(fileURLToPath(new URL('./loadgen.ts', import.meta.url)), [], {
      cwd: REPO,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  }

  run(options: LoadOptions): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { type: 'result'; result: LoadResult } | { type: 'error'; error: string }) => {
        this.child.off('message', onMessage);
        if (m.type === 'result') resolve(m.result);
        else reject(new Error(m.error));
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'run', options });
    });
  }

  close(): void {
    if (this.child.connected) this.child.send({ type: 'exit' });
  }
}

import type { TestHub } from './hub.js';

export type Answer = { status: number; body: { error?: { code: string } }; headers: Record<string, string> };

/**
 * Lets the hub's clock run in the 25 ms steps a change waiting for its turn (`Turns`) sleeps, until the
 * answer is in; `release` (another replica ending its turn) runs after 20 steps.
 */
export async function answerWhileWaiting(h: TestHub, req: PromiseLike<Answer>, release?: () => Promise<unknown>): Promise<Answer> {
  let res: Answer | undefined;
  void Promise.resolve(req).then((r) => (res = r));
  for (let i = 0; i < 1000 && !res; i++) {
    if (i === 20 && release) await release();
    await h.clock.advance(25);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return res!;
}

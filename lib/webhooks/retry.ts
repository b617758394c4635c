// When a failed delivery is tried again. The contract: the second attempt within 10 s of the first,
// the third within 60 s of the second, then growing delays at most an hour apart for at least 24
// hours, then the delivery is `failed`. Each delay counts from the start of the attempt before it
// (and never before that attempt ended), so a receiver that never answers (10 s timeout) gets its
// second attempt as soon as the first gives up.

/** Seconds after attempt n (index n-1) before attempt n+1: 31 attempts over 24 h 52 min 35 s. */
export const RETRY_DELAYS_SECONDS: readonly number[] = [5, 30, 120, 300, 900, 1800, ...Array<number>(24).fill(3600)];

/** Attempts a delivery gets in all, the first included. */
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;

let scale = 1;

/**
 * Test hook: runs the schedule at `factor` of its length (0 < factor <= 1) until the returned
 * function restores it. The default schedule is the contract's; nothing but tests calls this.
 */
export function scaleRetryScheduleForTests(factor: number): () => void {
  if (!(factor > 0 && factor <= 1)) throw new Error(`retry scale must be in (0, 1], got ${factor}`);
  const before = scale;
  scale = factor;
  return () => {
    scale = before;
  };
}

/** The delay (ms) before the next attempt after `attemptsMade` failed ones, or null: give up. */
export function retryDelayMs(attemptsMade: number): number | null {
  const seconds = RETRY_DELAYS_SECONDS[attemptsMade - 1];
  return seconds === undefined ? null : Math.round(seconds * 1000 * scale);
}

/** When the next attempt is due, or null when the delivery has had all its attempts. */
export function nextAttemptAt(attemptsMade: number, attempt: { startedAt: Date; endedAt: Date }): Date | null {
  const delay = retryDelayMs(attemptsMade);
  if (delay === null) return null;
  return new Date(Math.max(attempt.startedAt.getTime() + delay, attempt.endedAt.getTime()));
}

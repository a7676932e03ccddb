// Exponential backoff with full jitter (the AWS architecture blog's recommendation), bounded in
// attempts, and abortable so shutdown is not held up by a sleeping retry.

export interface RetryPolicy { attempts: number; baseMs: number; maxMs: number }

export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy, onRetry: (err: Error, attempt: number, delayMs: number) => void, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt >= policy.attempts || signal?.aborted) throw err
      const delay = Math.random() * Math.min(policy.maxMs, policy.baseMs * 2 ** attempt)
      onRetry(err as Error, attempt, delay)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay)
        signal?.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
    }
  }
}

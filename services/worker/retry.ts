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

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])
const OUTAGE_NAMES = new Set(['ThrottlingException', 'InternalServerException', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout', 'TimeoutError', 'AbortError', 'RequestTimeTooSkewed', 'TooManyRequestsException',
  // misconfiguration (no bucket/table, no access, no credentials) says nothing about the data either
  // the store connection dropped with the command unanswered: the drain client fails it rather than
  // resending it (services/worker/main.ts createDrainClient) — the store is out, the data is fine
  'MaxRetriesPerRequestError',
  'NoSuchBucket', 'AccessDenied', 'AccessDeniedException', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'UnrecognizedClientException', 'CredentialsProviderError', 'ResourceNotFoundException', 'InvalidEndpointException', 'SinkUnavailable'])

/**
 * True when the destination could not be reached, said "not now" (network error, timeout,
 * throttling, 5xx) or is misconfigured (no bucket or table, no access). Such a batch stays buffered when retries run out — an outage must not move
 * the whole backlog to the dead-letter stream. Anything else means the sink answered and refused
 * the batch, and after the bounded retries it is dead-lettered with that answer.
 */
export function isOutage(err: unknown): boolean {
  for (let e = err as { code?: string; name?: string; status?: number; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e !== 'object') return false
    if (e.code && NETWORK_CODES.has(e.code)) return true
    if (e.name && OUTAGE_NAMES.has(e.name)) return true
    // ioredis' error for a command on a connection that has ended
    if ((e as { message?: string }).message === 'Connection is closed.') return true
    if (e.$retryable) return true
    const status = e.$metadata?.httpStatusCode ?? e.status
    if (status !== undefined && (status >= 500 || status === 429)) return true
  }
  return false
}

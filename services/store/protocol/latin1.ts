/*
 * Node's Buffer has fast one-byte-per-char accessors (used by its own
 * toString('latin1') and write(..., 'latin1')) that skip the encoding lookup
 * and argument checks; @types/node does not declare them.
 */

declare global {
  interface Buffer {
    latin1Slice(start: number, end: number): string
    latin1Write(s: string, offset: number, length?: number): number
  }
}

export {}

// Pure reducers for the delivery rules of docs/protocol.md ("Delivery and sync"):
// messages apply idempotently by id (the larger change_seq wins), display by seq,
// and a cursor moves only over changes seen in order.
import type { Message } from '@/apis/types'

export interface Log {
  /** messages by id, in their latest known state */
  byId: Map<number, Message>
  /** ids ordered by seq (ascending) */
  order: number[]
}

export function emptyLog(): Log {
  return { byId: new Map(), order: [] }
}

/** Insert or replace `m`; returns true when the log changed. */
export function applyMessage(log: Log, m: Message): boolean {
  const known = log.byId.get(m.id)
  if (known) {
    if (m.change_seq < known.change_seq) return false
    if (m.change_seq === known.change_seq && known.recalled === m.recalled) return false
    log.byId.set(m.id, m)
    return true
  }
  log.byId.set(m.id, m)
  // binary search the slot by seq; the common case (newest) is a push at the end
  const order = log.order
  const last = order.length ? log.byId.get(order[order.length - 1])!.seq : -1
  if (m.seq > last) {
    order.push(m.id)
    return true
  }
  let lo = 0
  let hi = order.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (log.byId.get(order[mid])!.seq < m.seq) lo = mid + 1
    else hi = mid
  }
  order.splice(lo, 0, m.id)
  return true
}

export function applyMany(log: Log, ms: Message[]): number {
  let n = 0
  for (const m of ms) if (applyMessage(log, m)) n++
  return n
}

/**
 * The cursor rule for a pushed change: `change_seq <= s` seen, `== s+1` advance,
 * `> s+1` a gap (keep the cursor, ask for sync).
 */
export function advanceCursor(cursor: number | undefined, changeSeq: number): { cursor: number | undefined; gap: boolean } {
  if (cursor === undefined) return { cursor, gap: true }
  if (changeSeq <= cursor) return { cursor, gap: false }
  if (changeSeq === cursor + 1) return { cursor: changeSeq, gap: false }
  return { cursor, gap: true }
}

/** How many other members have read up to `seq` (readers) and how many have not. */
export function readCounts(seq: number, me: number, positions: Map<number, number>): { read: number; unread: number } {
  let read = 0
  let unread = 0
  for (const [uid, pos] of positions) {
    if (uid === me) continue
    if (pos >= seq) read++
    else unread++
  }
  return { read, unread }
}

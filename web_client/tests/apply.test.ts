import { describe, expect, it } from 'vitest'
import { advanceCursor, applyMessage, emptyLog, readCounts } from '@/realtime/apply'
import type { Message } from '@/apis/types'

function msg(id: number, seq: number, change_seq = seq, extra: Partial<Message> = {}): Message {
  return {
    id, channel_id: 1, seq, change_seq, sender: { id: 7, username: 'zs', display_name: '张三' }, kind: 'text', text: `m${id}`,
    file: null, card: null, mentions: [], client_msg_id: `c${id}`, thread_root_id: null, created_at: '2026-11-24T06:00:00+00:00',
    edited_at: null, recalled: false, ...extra,
  }
}

describe('applyMessage', () => {
  it('orders by seq whatever the arrival order', () => {
    const log = emptyLog()
    for (const m of [msg(3, 20), msg(1, 17), msg(2, 18)]) applyMessage(log, m)
    expect(log.order).toEqual([1, 2, 3])
  })
  it('is idempotent: a replay changes nothing', () => {
    const log = emptyLog()
    expect(applyMessage(log, msg(1, 5))).toBe(true)
    expect(applyMessage(log, msg(1, 5))).toBe(false)
    expect(log.order).toEqual([1])
  })
  it('keeps the state with the larger change_seq', () => {
    const log = emptyLog()
    applyMessage(log, msg(1, 5, 9, { text: 'edited' }))
    expect(applyMessage(log, msg(1, 5, 5, { text: 'old' }))).toBe(false)
    expect(log.byId.get(1)!.text).toBe('edited')
    applyMessage(log, msg(1, 5, 12, { recalled: true, text: '' }))
    expect(log.byId.get(1)!.recalled).toBe(true)
    expect(log.order).toEqual([1])
  })
})

describe('advanceCursor', () => {
  it('moves over in-order changes only', () => {
    expect(advanceCursor(4, 5)).toEqual({ cursor: 5, gap: false })
    expect(advanceCursor(4, 3)).toEqual({ cursor: 4, gap: false })
    expect(advanceCursor(4, 7)).toEqual({ cursor: 4, gap: true })
    expect(advanceCursor(undefined, 1).gap).toBe(true)
  })
})

describe('readCounts', () => {
  it('counts the other members who read up to a seq', () => {
    const pos = new Map([[7, 10], [8, 10], [9, 3], [10, 12]])
    expect(readCounts(10, 7, pos)).toEqual({ read: 2, unread: 1 })
  })
})

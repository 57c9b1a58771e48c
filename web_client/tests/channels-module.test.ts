// stores/channels.ts on its own: the badges a push leaves, when a push means a sync is
// needed, and what is kept in IndexedDB.
import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ClientDb } from '@/realtime/db'
import { openDb } from '@/realtime/db'
import { createChannels } from '@/stores/channels'
import { LISI, ME, channel, message, setHidden } from './fakes'

function setup(db: ClientDb | null = null) {
  const seen = { gaps: 0, reads: [] as number[], notified: [] as number[], delivered: [] as string[] }
  const state = createChannels({
    me: () => ME,
    db: () => db,
    gap: () => void seen.gaps++,
    read: (id) => void seen.reads.push(id),
    notify: (m) => void seen.notified.push(m.id),
    delivered: (id) => void seen.delivered.push(id),
  })
  state.restore({ '41': 0, '42': 0 }, [channel(41), channel(42), channel(43, { kind: 'direct', peers: [ME, LISI] })])
  return { state, seen }
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('createChannels', () => {
  afterEach(() => setHidden(null))

  it('counts a push in a channel not open as unread, and as a mention when it mentions me', () => {
    const { state } = setup()
    state.currentId.value = 42
    state.ingest(message(1, 41, 1), 'push')
    state.ingest(message(2, 41, 2, { mentions: [ME.id] }), 'push')
    state.ingest(message(2, 41, 2, { mentions: [ME.id] }), 'push') // delivered twice: counted once
    expect(state.channels.value[41]).toMatchObject({ unread: 2, mentions: 1, head_seq: 2 })
    expect(state.messagesOf(41).map((m) => m.text)).toEqual(['第1条', '第2条'])
  })

  it('does not count a push in the open channel of a visible tab, and marks it read instead', () => {
    const { state, seen } = setup()
    state.currentId.value = 41
    state.ingest(message(1, 41, 1, { mentions: [ME.id] }), 'push')
    expect(state.channels.value[41]).toMatchObject({ unread: 0, mentions: 0 })
    expect(seen.reads).toEqual([41])
  })

  it('counts the open channel too while the tab is hidden, and notifies a mention or a direct message', () => {
    const { state, seen } = setup()
    setHidden(true)
    state.currentId.value = 41
    state.ingest(message(1, 41, 1), 'push')
    state.ingest(message(2, 41, 2, { mentions: [ME.id] }), 'push')
    state.ingest(message(3, 43, 1), 'push')
    expect(state.channels.value[41].unread).toBe(2)
    expect(seen.reads).toEqual([])
    expect(seen.notified).toEqual([2, 3])
  })

  it('does not count what a sync or a history page brings, nor a recalled message', () => {
    const { state } = setup()
    state.ingestMany([message(1, 41, 1), message(2, 41, 2, { mentions: [ME.id] })])
    state.ingest(message(3, 41, 3, { recalled: true }), 'push')
    expect(state.channels.value[41]).toMatchObject({ unread: 0, mentions: 0, head_seq: 3 })
  })

  it('takes my own message as read up to it, and as delivered for the outbox', () => {
    const { state, seen } = setup()
    state.reads.value = { 41: { [ME.id]: 0, [LISI.id]: 0 } }
    state.ingest(message(1, 41, 1, { sender: ME, client_msg_id: 'u-1' }), 'push')
    expect(state.channels.value[41]).toMatchObject({ unread: 0, last_read_seq: 1 })
    expect(seen.delivered).toEqual(['u-1'])
    expect(state.reads.value[41]).toEqual({ [ME.id]: 1, [LISI.id]: 0 })
  })

  it('asks for a sync when a push skips ahead of the cursor, and keeps the cursor until then', () => {
    const { state, seen } = setup()
    state.ingest(message(1, 41, 1), 'push')
    expect(state.getCursors()['41']).toBe(1)
    expect(seen.gaps).toBe(0)
    state.ingest(message(3, 41, 3), 'push') // change 2 was missed
    expect(seen.gaps).toBe(1)
    expect(state.getCursors()['41']).toBe(1)
    expect(state.messagesOf(41).map((m) => m.seq)).toEqual([1, 3]) // shown all the same
    state.ingest(message(9, 44, 1), 'push') // a channel without a cursor yet
    expect(seen.gaps).toBe(2)
  })

  it("clears my badges when another tab of mine read up to the channel's head", () => {
    const { state } = setup()
    state.ingest(message(1, 41, 1), 'push')
    state.ingest(message(2, 41, 2), 'push')
    state.readBy({ channel_id: 41, user_id: ME.id, seq: 1 })
    expect(state.channels.value[41]).toMatchObject({ unread: 2, last_read_seq: 1 })
    state.readBy({ channel_id: 41, user_id: ME.id, seq: 2 })
    expect(state.channels.value[41]).toMatchObject({ unread: 0, mentions: 0, last_read_seq: 2 })
    state.reads.value = { 41: {} }
    state.readBy({ channel_id: 41, user_id: LISI.id, seq: 2 })
    state.readBy({ channel_id: 41, user_id: LISI.id, seq: 1 }) // late and older: ignored
    expect(state.reads.value[41][LISI.id]).toBe(2)
  })

  it('tells views to re-read a channel only when its log changed', () => {
    const { state } = setup()
    state.ingest(message(1, 41, 1), 'push')
    const v = state.versions[41]
    state.ingest(message(1, 41, 1), 'push')
    expect(state.versions[41]).toBe(v)
    state.ingest(message(1, 41, 1, { change_seq: 2, text: '已编辑' }), 'push')
    expect(state.versions[41]).toBe(v + 1)
    expect(state.messageById(41, 1)?.text).toBe('已编辑')
  })

  it('applies a channel:update and forgets a removed channel', () => {
    const { state } = setup()
    state.ingest(message(1, 42, 1), 'push')
    state.currentId.value = 42
    state.update({ channel_id: 41, name: '防汛工作组', read_only: true })
    state.forget(42)
    expect(state.channels.value[41]).toMatchObject({ name: '防汛工作组', read_only: true })
    expect(state.channels.value[42]).toBeUndefined()
    expect(state.messagesOf(42)).toEqual([])
    expect(state.currentId.value).toBeNull()
    expect('42' in state.getCursors()).toBe(false)
  })

  it('writes messages, cursors and the channel list to IndexedDB in batches, but not older history pages', async () => {
    const db = openDb(2001)
    const { state } = setup(db)
    const bulkPut = vi.spyOn(db.messages, 'bulkPut')
    state.ingest(message(1, 41, 1), 'push')
    state.ingest(message(2, 41, 2), 'push')
    state.ingestMany([message(3, 42, 5)])
    state.ingestMany([message(4, 42, 4)], false) // scrolled back: shown, not cached
    state.forget(43)
    await wait(400)
    expect(bulkPut).toHaveBeenCalledTimes(1)
    expect((await db.messages.toArray()).map((m) => m.id).sort()).toEqual([1, 2, 3])
    expect((await db.meta.get('cursors'))?.value).toEqual({ '41': 2, '42': 0 })
    expect((await db.channels.toArray()).map((c) => c.id)).toEqual([41, 42])
  })
})

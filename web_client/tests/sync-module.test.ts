// stores/sync.ts on its own: how many sync calls a client makes, with which cursors, and
// what a sync answer's channel list does to the channel list on screen.
import { describe, expect, it } from 'vitest'
import type { Message } from '@/apis/types'
import { createChannels } from '@/stores/channels'
import { createSync } from '@/stores/sync'
import { FakeSocket, ME, channel, flushPromises, message } from './fakes'

function setup(answer: FakeSocket['answer'], start: Record<string, number> = {}) {
  const fake = new FakeSocket()
  fake.connected = true
  fake.answer = answer
  let cursors = start
  const pages: Message[][] = []
  const sync = createSync({
    socket: () => fake as any,
    cursors: () => cursors,
    setCursors: (c) => (cursors = c),
    ingestMany: (ms) => pages.push(ms),
    onChannels: () => {},
  })
  return { fake, sync, pages, cursors: () => cursors }
}

function gate() {
  let open!: () => void
  const opened = new Promise<void>((r) => (open = r))
  return { open, opened }
}

describe('createSync', () => {
  it('pages until has_more is false, each time with the cursors the previous page returned', async () => {
    const answers = [
      { ok: true, messages: [message(1, 41, 1)], cursors: { '41': 1 }, has_more: true },
      { ok: true, messages: [message(2, 41, 2)], cursors: { '41': 2, '42': 5 }, has_more: true },
      { ok: true, messages: [], cursors: { '41': 2, '42': 6 }, has_more: false },
    ]
    const t = setup(() => answers.shift(), { '41': 0 })
    await t.sync.syncAll()
    expect(t.fake.events('sync').map((e) => e.payload)).toEqual([
      { cursors: { '41': 0 }, limit: 500 },
      { cursors: { '41': 1 }, limit: 500 },
      { cursors: { '41': 2, '42': 5 }, limit: 500 },
    ])
    expect(t.pages.map((p) => p.map((m) => m.id))).toEqual([[1], [2], []])
    expect(t.cursors()).toEqual({ '41': 2, '42': 6 })
  })

  it('makes exactly one more round for any number of requests during a running sync', async () => {
    const first = gate()
    let n = 0
    const t = setup(async () => {
      if (++n === 1) await first.opened
      return { ok: true, messages: [], cursors: { '41': n }, has_more: false }
    })
    const running = t.sync.syncAll()
    await flushPromises()
    for (let i = 0; i < 5; i++) t.sync.scheduleSync()
    const joined = t.sync.syncAll() // waits for the same loop rather than starting another
    first.open()
    await Promise.all([running, joined])
    expect(t.fake.events('sync')).toHaveLength(2)
    expect(t.fake.events('sync')[1].payload.cursors).toEqual({ '41': 1 })
    // once it is over, a new request is a new round
    t.sync.scheduleSync()
    await flushPromises()
    expect(t.fake.events('sync')).toHaveLength(3)
  })

  it('asks nothing while offline', async () => {
    const t = setup(() => ({ ok: true, messages: [], cursors: {}, has_more: false }))
    t.fake.connected = false
    await t.sync.syncAll()
    expect(t.fake.sent).toHaveLength(0)
  })

  it('a refused sync rejects, and the next request syncs again', async () => {
    let refuse = true
    const t = setup(() => (refuse ? { ok: false, error: { code: 'unavailable', message: '服务暂不可用' } } : { ok: true, messages: [], cursors: { '41': 3 }, has_more: false }))
    await expect(t.sync.syncAll()).rejects.toMatchObject({ code: 'unavailable' })
    refuse = false
    await t.sync.syncAll()
    expect(t.fake.events('sync')).toHaveLength(2)
    expect(t.cursors()).toEqual({ '41': 3 })
  })

  it('forgets a channel missing from the answer’s channel list, with its messages and cursor', async () => {
    const fake = new FakeSocket()
    fake.connected = true
    const state = createChannels({ me: () => ME, db: () => null, gap: () => {}, read: () => {}, notify: () => {}, delivered: () => {} })
    const sync = createSync({
      socket: () => fake as any,
      cursors: state.getCursors,
      setCursors: state.setCursors,
      ingestMany: (ms) => state.ingestMany(ms),
      onChannels: (list) => state.replace(list),
    })
    state.restore({ '41': 1, '42': 1 }, [channel(41), channel(42)])
    state.ingestMany([message(1, 41, 1), message(2, 42, 1)])
    state.currentId.value = 42
    fake.answer = () => ({ ok: true, messages: [message(3, 41, 2)], cursors: { '41': 2, '42': 1 }, has_more: false, channels: [channel(41, { name: '防汛工作组' })] })
    await sync.syncAll()
    expect(Object.keys(state.channels.value)).toEqual(['41'])
    expect(state.channels.value[41].name).toBe('防汛工作组')
    expect(state.messagesOf(41).map((m) => m.id)).toEqual([1, 3])
    expect(state.messagesOf(42)).toEqual([])
    expect(state.getCursors()).toEqual({ '41': 2 })
    expect(state.currentId.value).toBeNull() // the pane of a channel left closes
  })
})

// The composed chat store against a fake socket: the modules are wired as before, so
// pages and components see the same store.
import 'fake-indexeddb/auto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { FakeSocket, LISI, ME, channel, flushPromises, message } from './fakes'

let fake: FakeSocket
vi.mock('@/realtime/socket', async (orig) => {
  const real = await orig<typeof import('@/realtime/socket')>()
  return { ...real, connect: () => fake }
})

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

const API = [
  'me', 'socket', 'status', 'channels', 'channelList', 'currentId', 'current', 'outbox', 'versions', 'history', 'members',
  'reads', 'typing', 'totalUnread', 'sessionEnded', 'syncedOnce', 'start', 'stop', 'openChannel', 'loadOlder', 'loadThread',
  'loadMembers', 'markRead', 'scheduleRead', 'sendTyping', 'restored', 'send', 'retry', 'discard', 'takeBack', 'edit',
  'runCommand', 'recall', 'cardAction', 'createChannel', 'listPublic', 'join', 'openDm', 'messagesOf', 'messageById', 'hist',
  'syncAll',
]

async function started() {
  const { useChatStore } = await import('@/stores/chat')
  const chat = useChatStore()
  const ended = vi.fn()
  fake.answer = (event, p) => {
    if (event === 'sync') return { ok: true, messages: [message(1, 41, 1)], cursors: { '41': 1, '42': 0 }, has_more: false, channels: [channel(41), channel(42)] }
    if (event === 'read') return { ok: true, seq: p.seq }
    return { ok: true, units: [], online: 0, members: [], messages: [], has_more: false }
  }
  await chat.start(ME, { notify: () => {}, ended })
  fake.connect()
  await wait(20)
  return { chat, ended }
}

describe('the chat store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    fake = new FakeSocket()
  })
  afterEach(() => vi.unstubAllGlobals())

  it('still offers everything pages and components use', async () => {
    const mod = await import('@/stores/chat')
    const chat = mod.useChatStore()
    for (const k of API) expect(chat, k).toHaveProperty(k)
    expect(mod.useChatStoreOutside).toBeTypeOf('function')
    expect(mod.channelTitle(channel(5, { kind: 'direct', name: '', peers: [ME, LISI] }), ME.id)).toBe('李四')
  })

  it('syncs on connect, badges a push elsewhere, not one in the open channel, and marks that read', async () => {
    const { chat } = await started()
    expect(chat.status).toBe('online')
    expect(chat.syncedOnce).toBe(true)
    expect(chat.channelList.map((c) => c.id)).toEqual([41, 42])
    expect(chat.messagesOf(41).map((m) => m.seq)).toEqual([1])
    await chat.openChannel(41)
    fake.fire('message', message(2, 41, 2))
    fake.fire('message', message(3, 42, 1, { mentions: [ME.id] }))
    expect(chat.totalUnread).toBe(1)
    expect(chat.channels[42]).toMatchObject({ unread: 1, mentions: 1 })
    await wait(200)
    expect(fake.events('read').map((e) => e.payload)).toEqual([{ channel_id: 41, seq: 2 }])
    chat.stop()
  })

  it('syncs again when a push shows a gap, and drops a channel the hub removed', async () => {
    const { chat } = await started()
    const before = fake.events('sync').length
    fake.fire('message', message(9, 41, 5)) // changes 2–4 never arrived
    await flushPromises()
    expect(fake.events('sync')).toHaveLength(before + 1)
    fake.fire('channel:removed', { channel_id: 42 })
    expect(chat.channels[42]).toBeUndefined()
    chat.stop()
  })

  it("ends the session after 'io server disconnect' when the hub no longer knows the cookie", async () => {
    const { chat, ended } = await started()
    vi.stubGlobal('fetch', vi.fn(async () => ({ ok: false, status: 401 })))
    fake.connected = false
    fake.fire('disconnect', 'io server disconnect')
    await flushPromises()
    expect(chat.status).toBe('offline')
    expect(chat.sessionEnded).toBe(true)
    expect(ended).toHaveBeenCalledTimes(1)
    chat.stop()
  })

  it('goes offline at once when the browser loses the network, and stop forgets the session', async () => {
    const { chat } = await started()
    window.dispatchEvent(new Event('offline'))
    expect(chat.status).toBe('offline')
    expect(fake.connected).toBe(false)
    chat.stop()
    expect(chat.socket).toBeNull()
    expect(chat.channelList).toEqual([])
    expect(chat.syncedOnce).toBe(false)
  })
})

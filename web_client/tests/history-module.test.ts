// stores/history.ts on its own: what a channel shows when opened (the cache at once, the
// hub's newest page once per session) and how older pages are asked for.
import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { openDb } from '@/realtime/db'
import { createChannels } from '@/stores/channels'
import { createHistory } from '@/stores/history'
import { FakeSocket, ME, channel, message } from './fakes'

async function setup(userId: number, cachedSeqs: number[], answer: FakeSocket['answer']) {
  const db = openDb(userId)
  await db.messages.bulkPut(cachedSeqs.map((s) => message(100 + s, 41, s)))
  const fake = new FakeSocket()
  fake.connected = true
  fake.answer = answer
  const state = createChannels({ me: () => ME, db: () => db, gap: () => {}, read: () => {}, notify: () => {}, delivered: () => {} })
  state.restore({}, [channel(41)])
  const pages = createHistory({ socket: () => fake as any, db: () => db, channels: state })
  return { fake, state, pages, seqs: () => state.messagesOf(41).map((m) => m.seq) }
}

describe('createHistory', () => {
  it('shows the cached messages, adds the newest page, and fetches it only once per session', async () => {
    const t = await setup(3001, [1, 2, 3], () => ({ ok: true, messages: [message(103, 41, 3), message(104, 41, 4)], has_more: true }))
    await t.pages.loadNewest(41)
    await t.pages.loadNewest(41)
    expect(t.seqs()).toEqual([1, 2, 3, 4])
    expect(t.fake.events('history')).toHaveLength(1)
    expect(t.pages.hist(41)).toMatchObject({ fresh: true, hasMore: true, loading: false })
  })

  it('drops a cache that ends before the newest page begins, so no hole is shown', async () => {
    const t = await setup(3002, [1, 2], () => ({ ok: true, messages: [message(150, 41, 50), message(151, 41, 51)], has_more: true }))
    await t.pages.loadNewest(41)
    expect(t.seqs()).toEqual([50, 51])
  })

  it('asks for older pages before the oldest shown, until the hub has no more', async () => {
    const t = await setup(3003, [], (_e, p) =>
      p.before_seq ? { ok: true, messages: [message(1, 41, 1)], has_more: false } : { ok: true, messages: [message(5, 41, 5)], has_more: true },
    )
    await t.pages.loadNewest(41)
    expect(await t.pages.loadOlder(41)).toBe(1)
    expect(await t.pages.loadOlder(41)).toBe(0)
    expect(t.fake.events('history').map((e) => e.payload.before_seq)).toEqual([undefined, 5])
    expect(t.seqs()).toEqual([1, 5])
  })
})

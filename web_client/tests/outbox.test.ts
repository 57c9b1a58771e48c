// The chat store against a fake socket: the outbox keeps what was typed offline, sends it
// once with its client_msg_id, shows nothing twice, and marks a refused send for retry.
import 'fake-indexeddb/auto'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import type { Message } from '@/apis/types'
import { openDb } from '@/realtime/db'

type Handler = (...args: any[]) => void

class FakeSocket {
  connected = false
  active = true
  handlers = new Map<string, Handler[]>()
  sent: { event: string; payload: any }[] = []
  io = { on: () => this.io }
  answer: (event: string, payload: any) => any = () => ({ ok: true })
  on(event: string, fn: Handler) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn])
    return this
  }
  fire(event: string, ...args: any[]) {
    for (const fn of this.handlers.get(event) ?? []) fn(...args)
  }
  timeout() {
    return this
  }
  async emitWithAck(event: string, payload: any) {
    this.sent.push({ event, payload })
    return this.answer(event, payload)
  }
  emit(event: string, payload: any) {
    this.sent.push({ event, payload })
  }
  connect() {
    this.connected = true
    this.fire('connect')
  }
  disconnect() {
    this.connected = false
    this.fire('disconnect', 'io client disconnect')
  }
  removeAllListeners() {
    this.handlers.clear()
  }
}

let fake: FakeSocket
vi.mock('@/realtime/socket', async (orig) => {
  const real = await orig<typeof import('@/realtime/socket')>()
  return { ...real, connect: () => fake }
})

const ME = { id: 7, username: 'zhangsan', display_name: '张三' }
const CHANNEL = {
  id: 41, kind: 'private', name: '防汛工作组', topic: '', unit_id: null, read_only: false, head_seq: 0, role: 'admin',
  last_read_seq: 0, unread: 0, mentions: 0, member_count: 3, peers: [],
}

function stored(payload: any, seq: number): Message {
  return {
    id: 900 + seq, channel_id: payload.channel_id, seq, change_seq: seq, sender: ME, kind: 'text', text: payload.text, file: null,
    card: null, mentions: [], client_msg_id: payload.client_msg_id, thread_root_id: null, created_at: new Date().toISOString(),
    edited_at: null, recalled: false,
  }
}

const tick = () => new Promise((r) => setTimeout(r, 20))

describe('the outbox', () => {
  beforeEach(async () => {
    setActivePinia(createPinia())
    fake = new FakeSocket()
    await openDb(ME.id).outbox.clear() // each case starts with nothing waiting
  })

  it('sends what was typed offline once, after the sync, and shows it once', async () => {
    const { useChatStore } = await import('@/stores/chat')
    const chat = useChatStore()
    let seq = 0
    fake.answer = (event, p) => {
      if (event === 'sync') return { ok: true, messages: [], cursors: { '41': seq }, has_more: false, channels: [CHANNEL] }
      if (event === 'message:send') return { ok: true, message: stored(p, ++seq) }
      return { ok: true, units: [], online: 0, members: [], messages: [], has_more: false, seq }
    }
    await chat.start(ME, { notify: () => {}, ended: () => {} })
    await chat.send(41, '第一条')
    await chat.send(41, '第二条')
    expect(chat.outbox.map((e) => e.text)).toEqual(['第一条', '第二条'])
    expect(fake.sent.filter((s) => s.event === 'message:send')).toHaveLength(0)

    fake.connect()
    await tick()
    const sends = fake.sent.filter((s) => s.event === 'message:send')
    expect(sends.map((s) => s.payload.text)).toEqual(['第一条', '第二条'])
    expect(fake.sent.findIndex((s) => s.event === 'sync')).toBeLessThan(fake.sent.findIndex((s) => s.event === 'message:send'))
    expect(chat.outbox).toHaveLength(0)
    // the push of the same message changes nothing
    fake.fire('message', stored(sends[0].payload, 1))
    expect(chat.messagesOf(41).map((m) => m.text)).toEqual(['第一条', '第二条'])
    chat.stop()
  })

  it('shows a row as pending only once it is in IndexedDB, so a reload right after Enter keeps it', async () => {
    const { useChatStore } = await import('@/stores/chat')
    const chat = useChatStore()
    fake.answer = () => ({ ok: true, messages: [], cursors: {}, has_more: false, channels: [CHANNEL], units: [], members: [] })
    await chat.start(ME, { notify: () => {}, ended: () => {} })
    const table = openDb(ME.id).outbox
    const realPut = table.put.bind(table)
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const slowPut = async (...args: Parameters<typeof table.put>) => {
      await gate // the disk is slow
      return realPut(...args)
    }
    const put = vi.spyOn(table, 'put').mockImplementation(slowPut as unknown as typeof table.put)
    const sending = chat.send(41, '刚按下回车')
    await tick()
    expect(chat.outbox).toHaveLength(0)
    release()
    await sending
    expect(chat.outbox.map((e) => e.text)).toEqual(['刚按下回车'])
    expect((await table.toArray()).map((e) => e.text)).toEqual(['刚按下回车'])
    put.mockRestore()
    chat.stop()
  })

  it('retries a lost ack with the same client_msg_id, and marks a refusal for retry', async () => {
    const { useChatStore } = await import('@/stores/chat')
    const chat = useChatStore()
    let refuse = true
    let seq = 0
    fake.answer = (event, p) => {
      if (event === 'sync') return { ok: true, messages: [], cursors: {}, has_more: false, channels: [CHANNEL] }
      if (event === 'message:send') {
        if (refuse) return { ok: false, error: { code: 'forbidden', message: '频道已归档' } }
        return { ok: true, message: stored(p, ++seq) }
      }
      return { ok: true, units: [], online: 0, members: [], messages: [], has_more: false }
    }
    await chat.start(ME, { notify: () => {}, ended: () => {} })
    fake.connect()
    await tick()
    await chat.send(41, '会被拒绝')
    await tick()
    expect(chat.outbox).toHaveLength(1)
    expect(chat.outbox[0].state).toBe('failed')
    expect(chat.outbox[0].error).toBe('频道已归档')
    const id = chat.outbox[0].client_msg_id
    refuse = false
    chat.retry(id)
    await tick()
    const sends = fake.sent.filter((s) => s.event === 'message:send')
    expect(sends.map((s) => s.payload.client_msg_id)).toEqual([id, id])
    expect(chat.outbox).toHaveLength(0)
    expect(chat.messagesOf(41)).toHaveLength(1)
    chat.stop()
  })

  it('never sends again what the hub refused as too_large or bad_request, and gives it back to edit', async () => {
    const { useChatStore } = await import('@/stores/chat')
    const chat = useChatStore()
    fake.answer = (event) => {
      if (event === 'sync') return { ok: true, messages: [], cursors: {}, has_more: false, channels: [CHANNEL] }
      if (event === 'message:send') return { ok: false, error: { code: 'too_large', message: '消息过长，最多 10000 个字符' } }
      return { ok: true, units: [], online: 0, members: [], messages: [], has_more: false }
    }
    await chat.start(ME, { notify: () => {}, ended: () => {} })
    fake.connect()
    await tick()
    await chat.send(41, '长'.repeat(20_000))
    await tick()
    expect(chat.outbox[0].state).toBe('failed')
    expect(chat.outbox[0].error).toBe('消息过长，最多 10000 个字符')
    // reconnects do not resend it, nor does a retry
    for (let i = 0; i < 3; i++) {
      fake.disconnect()
      fake.connect()
      await tick()
    }
    chat.retry(chat.outbox[0].client_msg_id)
    await tick()
    expect(fake.sent.filter((s) => s.event === 'message:send')).toHaveLength(1)
    // 编辑: the text goes back to the composer of its channel, the entry leaves the outbox
    chat.takeBack(chat.outbox[0].client_msg_id)
    expect(chat.outbox).toHaveLength(0)
    expect(chat.restored).toEqual({ channel_id: 41, thread_root_id: undefined, text: '长'.repeat(20_000) })
    chat.stop()
  })

  it('does not send a text the hub would refuse for its size at all', async () => {
    const { useChatStore } = await import('@/stores/chat')
    const chat = useChatStore()
    fake.answer = (event) => {
      if (event === 'sync') return { ok: true, messages: [], cursors: {}, has_more: false, channels: [CHANNEL] }
      return { ok: true, units: [], online: 0, members: [], messages: [], has_more: false }
    }
    await chat.start(ME, { notify: () => {}, ended: () => {} })
    fake.connect()
    await tick()
    await chat.send(41, '长'.repeat(200_000)) // 600 KB in UTF-8
    await tick()
    expect(fake.sent.filter((s) => s.event === 'message:send')).toHaveLength(0)
    expect(chat.outbox[0].state).toBe('failed')
    expect(chat.outbox[0].error_code).toBe('too_large')
    expect(chat.outbox[0].error).toContain('256')
    chat.stop()
  })
})

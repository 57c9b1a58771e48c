// Test doubles shared by the store module tests: a socket that records what it sends and
// answers acks from a function, and builders for messages and channels.
import type { Channel, Message } from '@/apis/types'

type Handler = (...args: any[]) => void

export class FakeSocket {
  connected = false
  active = true
  handlers = new Map<string, Handler[]>()
  ioHandlers = new Map<string, Handler[]>()
  sent: { event: string; payload: any }[] = []
  connects = 0
  disconnects = 0
  answer: (event: string, payload: any) => any = () => ({ ok: true })
  io = {
    on: (event: string, fn: Handler) => {
      this.ioHandlers.set(event, [...(this.ioHandlers.get(event) ?? []), fn])
      return this.io
    },
  }
  on(event: string, fn: Handler) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn])
    return this
  }
  fire(event: string, ...args: any[]) {
    for (const fn of this.handlers.get(event) ?? []) fn(...args)
  }
  fireIo(event: string, ...args: any[]) {
    for (const fn of this.ioHandlers.get(event) ?? []) fn(...args)
  }
  timeout() {
    return this
  }
  async emitWithAck(event: string, payload: any) {
    // a copy: what went over the wire, not the caller's object as it is later
    this.sent.push({ event, payload: structuredClone(payload) })
    return this.answer(event, payload)
  }
  emit(event: string, payload: any) {
    this.sent.push({ event, payload })
  }
  connect() {
    this.connects++
    this.connected = true
    this.fire('connect')
  }
  disconnect() {
    this.disconnects++
    this.connected = false
    this.fire('disconnect', 'io client disconnect')
  }
  removeAllListeners() {
    this.handlers.clear()
  }
  /** the events sent so far, by name */
  events(name: string) {
    return this.sent.filter((s) => s.event === name)
  }
}

export const ME = { id: 7, username: 'zhangsan', display_name: '张三' }
export const LISI = { id: 8, username: 'lisi', display_name: '李四' }

export function channel(id: number, extra: Partial<Channel> = {}): Channel {
  return {
    id, kind: 'private', name: `频道${id}`, topic: '', unit_id: null, read_only: false, head_seq: 0, role: 'member',
    last_read_seq: 0, unread: 0, mentions: 0, member_count: 3, peers: [], ...extra,
  }
}

export function message(id: number, channelId: number, seq: number, extra: Partial<Message> = {}): Message {
  return {
    id, channel_id: channelId, seq, change_seq: seq, sender: LISI, kind: 'text', text: `第${seq}条`, file: null, card: null,
    mentions: [], client_msg_id: `c${id}`, thread_root_id: null, created_at: '2026-11-24T06:00:00+00:00', edited_at: null,
    recalled: false, ...extra,
  }
}

export const flushPromises = () => new Promise((r) => setTimeout(r, 0))

/** jsdom's tab is always visible; `null` gives the real getter back */
export function setHidden(hidden: boolean | null) {
  if (hidden === null) delete (document as { hidden?: boolean }).hidden
  else Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden })
}

// Channel state: the channel map, a message log per channel, read positions and the sync
// cursors of docs/protocol.md. Logs are kept out of Vue's reactivity (10,000 messages) and
// a version counter per channel tells views to re-read them.
import { markRaw, reactive, ref } from 'vue'
import type { Channel, Message, UserRef } from '@/apis/types'
import { applyMessage, advanceCursor, emptyLog, type Log } from '@/realtime/apply'
import type { ClientDb } from '@/realtime/db'
import { createPersistence } from './persist'

export type Source = 'push' | 'sync' | 'history' | 'ack'

export interface ChannelsDeps {
  me: () => UserRef | null
  db: () => ClientDb | null
  /** a pushed change skipped ahead of its cursor: only a sync can fill the hole */
  gap: () => void
  /** a message arrived in the channel on screen */
  read: (channelId: number) => void
  /** a direct message or a mention arrived while the tab is hidden */
  notify: (m: Message, ch: Channel) => void
  /** my own message is stored: its outbox entry is done */
  delivered: (clientMsgId: string) => void
}

export function createChannels(deps: ChannelsDeps) {
  const channels = ref<Record<number, Channel>>({})
  const currentId = ref<number | null>(null)
  const versions = reactive<Record<number, number>>({})
  /** read positions per channel (user id → last_read_seq), from channel:members and `read` pushes */
  const reads = ref<Record<number, Record<number, number>>>({})
  const logs = markRaw(new Map<number, Log>())
  let cursors: Record<string, number> = {}
  const save = createPersistence(deps.db)

  function log(channelId: number): Log {
    let l = logs.get(channelId)
    if (!l) {
      l = emptyLog()
      logs.set(channelId, l)
    }
    return l
  }
  function bump(channelId: number) {
    versions[channelId] = (versions[channelId] ?? 0) + 1
  }

  function getCursors(): Record<string, number> {
    return cursors
  }
  function setCursors(c: Record<string, number>) {
    cursors = c
    save.cursors(getCursors)
  }
  /** what the cache held at start; channels already known (a restart) win */
  function restore(saved: Record<string, number>, list: Channel[]) {
    cursors = saved
    if (!Object.keys(channels.value).length) for (const c of list) channels.value[c.id] = c
  }
  function persistChannels() {
    save.channels(Object.values(channels.value))
  }

  /** Apply one message (push, ack, sync or history); returns true if it was new to this client. */
  function ingest(m: Message, source: Source): boolean {
    const me = deps.me()
    const l = log(m.channel_id)
    const isNew = !l.byId.has(m.id)
    const changed = applyMessage(l, m)
    if (source === 'push' || source === 'ack') {
      const r = advanceCursor(cursors[String(m.channel_id)], m.change_seq)
      if (r.gap) deps.gap()
      else if (r.cursor !== undefined && r.cursor !== cursors[String(m.channel_id)]) {
        cursors[String(m.channel_id)] = r.cursor
        save.cursors(getCursors)
      }
    }
    if (m.sender.id === me?.id && m.client_msg_id) deps.delivered(m.client_msg_id)
    const ch = channels.value[m.channel_id]
    if (ch) {
      if (m.change_seq > ch.head_seq) ch.head_seq = m.change_seq
      if (isNew && source === 'push' && m.sender.id !== me?.id && !m.recalled && m.seq > ch.last_read_seq) {
        if (currentId.value === m.channel_id && !document.hidden) deps.read(m.channel_id)
        else {
          ch.unread = (ch.unread || 0) + 1
          if (me && m.mentions.includes(me.id)) ch.mentions = (ch.mentions || 0) + 1
        }
        if (document.hidden && (ch.kind === 'direct' || (me && m.mentions.includes(me.id)))) deps.notify(m, ch)
      }
      if (m.sender.id === me?.id && m.seq > ch.last_read_seq) ch.last_read_seq = m.seq
    }
    // sending moves the sender's read position to the message (without a `read` push)
    const r = reads.value[m.channel_id]
    if (r && isNew && (r[m.sender.id] ?? 0) < m.seq) r[m.sender.id] = m.seq
    if (changed) {
      save.messages([m])
      bump(m.channel_id)
    }
    return isNew
  }

  /** Sync and history pages: no counting. `keep: false` for older pages, the cache only needs a channel's newest messages. */
  function ingestMany(ms: Message[], keep = true) {
    const me = deps.me()
    const touched = new Set<number>()
    const changedMs: Message[] = []
    for (const m of ms) {
      if (applyMessage(log(m.channel_id), m)) {
        touched.add(m.channel_id)
        changedMs.push(m)
      }
      if (m.sender.id === me?.id && m.client_msg_id) deps.delivered(m.client_msg_id)
      const ch = channels.value[m.channel_id]
      if (ch && m.change_seq > ch.head_seq) ch.head_seq = m.change_seq
    }
    if (changedMs.length && keep) save.messages(changedMs)
    for (const id of touched) bump(id)
  }

  /** a channel (re)joined or created: shown at once, its messages come with the next sync */
  function put(c: Channel) {
    channels.value[c.id] = c
  }
  function update(u: Partial<Channel> & { channel_id: number }) {
    const c = channels.value[u.channel_id]
    if (!c) return
    for (const k of ['name', 'topic', 'read_only'] as const) if (k in u) (c as unknown as Record<string, unknown>)[k] = u[k]
    persistChannels()
  }
  /** The hub's full list replaces ours: a channel it no longer lists was left or removed. */
  function replace(list: Channel[]) {
    const next: Record<number, Channel> = {}
    for (const c of list) next[c.id] = c
    for (const id of Object.keys(channels.value).map(Number)) if (!next[id]) forget(id)
    channels.value = next
    persistChannels()
  }
  function forget(channelId: number) {
    const next = { ...channels.value }
    delete next[channelId]
    channels.value = next
    logs.delete(channelId)
    delete cursors[String(channelId)]
    if (currentId.value === channelId) currentId.value = null
    persistChannels()
  }

  /** a `read` push: someone read up to `seq`; if it was me (another tab), my badges go */
  function readBy({ channel_id, user_id, seq }: { channel_id: number; user_id: number; seq: number }) {
    const r = reads.value[channel_id]
    if (r) r[user_id] = Math.max(r[user_id] ?? 0, seq)
    if (user_id !== deps.me()?.id) return
    const c = channels.value[channel_id]
    if (c && seq >= c.last_read_seq) {
      c.last_read_seq = seq
      if (seq >= c.head_seq) {
        c.unread = 0
        c.mentions = 0
      }
    }
  }

  function messagesOf(channelId: number): Message[] {
    void versions[channelId]
    const l = logs.get(channelId)
    if (!l) return []
    return l.order.map((id) => l.byId.get(id)!)
  }
  function messageById(channelId: number, id: number): Message | undefined {
    void versions[channelId]
    return logs.get(channelId)?.byId.get(id)
  }
  /** seq of the newest message held for a channel, 0 if none */
  function newestSeq(channelId: number): number {
    const l = logs.get(channelId)
    return l?.order.length ? l.byId.get(l.order[l.order.length - 1])!.seq : 0
  }

  function clear() {
    logs.clear()
    channels.value = {}
    currentId.value = null
    cursors = {}
  }

  return {
    channels, currentId, versions, reads,
    log, bump, getCursors, setCursors, restore, persist: save.messages, persistChannels,
    ingest, ingestMany, put, update, replace, forget, readBy, messagesOf, messageById, newestSeq, clear,
  }
}

export type ChannelState = ReturnType<typeof createChannels>

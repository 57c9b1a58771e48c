// The realtime store: one socket (connection.ts), the channel map and logs (channels.ts),
// the sync loop (sync.ts), history pages (history.ts), typing (typing.ts) and the outbox
// (outbox.ts), composed here with what needs several of them: read marking and commands.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { Card, Channel, Member, Message, PresenceStatus, PresenceUnit, PublicChannel, UserRef } from '@/apis/types'
import { ApiError } from '@/http/request'
import { openDb, type ClientDb } from '@/realtime/db'
import { call, type Socket } from '@/realtime/socket'
import { i18n } from '@/i18n'
import { createChannels } from './channels'
import { createConnection } from './connection'
import { createHistory } from './history'
import { createOutbox } from './outbox'
import { pinia } from './pinia'
import { usePresenceStore } from './presence'
import { createSync } from './sync'
import { createTyping } from './typing'

export type { ConnStatus } from './connection'

const RECEIPTS_MAX = 50

export function channelTitle(ch: Channel | undefined, me?: number): string {
  if (!ch) return ''
  if (ch.kind === 'direct') {
    const peers = ch.peers.filter((p) => p.id !== me)
    return peers.map((p) => p.display_name).join('、') || ch.name || '—'
  }
  return ch.name
}

export const useChatStore = defineStore('chat', () => {
  const me = ref<UserRef | null>(null)
  const members = ref<Record<number, Member[]>>({})
  const syncedOnce = ref(false)
  const todoCount = ref(0) // open workflow tasks: the 待办 badge (the `task` push keeps it)

  let store: ClientDb | null = null
  let presenceTimer: ReturnType<typeof setTimeout> | null = null
  let onNotify: ((m: Message, ch: Channel) => void) | null = null
  let onEnded: (() => void) | null = null

  const conn = createConnection({
    onConnect,
    onEnded: () => onEnded?.(),
    onVisible: () => {
      if (state.currentId.value) scheduleRead(state.currentId.value)
    },
  })
  const state = createChannels({
    me: () => me.value,
    db: () => store,
    gap: () => sync.scheduleSync(),
    read: scheduleRead,
    notify: (m, ch) => onNotify?.(m, ch),
    delivered: (id) => box.drop(id),
  })
  const sync = createSync({
    socket: () => conn.socket.value,
    cursors: state.getCursors,
    setCursors: state.setCursors,
    ingestMany: (ms) => state.ingestMany(ms),
    onChannels: (list) => {
      state.replace(list)
      if (state.currentId.value && !document.hidden) scheduleRead(state.currentId.value)
    },
  })
  const pages = createHistory({ socket: () => conn.socket.value, db: () => store, channels: state })
  const typer = createTyping(() => conn.socket.value)
  // sending: everything goes through the outbox
  const box = createOutbox({ socket: () => conn.socket.value, db: () => store, acked: (m) => state.ingest(m, 'ack') })

  const { socket, status, sessionEnded } = conn
  const { channels, currentId, versions, reads } = state
  const channelList = computed(() => Object.values(channels.value))
  const totalUnread = computed(() => channelList.value.reduce((n, c) => n + (c.unread || 0), 0))
  const current = computed(() => (currentId.value ? channels.value[currentId.value] : undefined))

  // ---------- connection ----------
  async function start(user: UserRef, opts: { notify: (m: Message, ch: Channel) => void; ended: () => void }) {
    if (socket.value) return
    me.value = user
    onNotify = opts.notify
    onEnded = opts.ended
    sessionEnded.value = false
    store = openDb(user.id)
    try {
      const [cur, chans, saved] = await Promise.all([
        store.meta.get('cursors'),
        store.channels.toArray(),
        store.outbox.orderBy('created_at').toArray(),
      ])
      state.restore((cur?.value as Record<string, number>) ?? {}, chans)
      box.entries.value = saved
    } catch {
      state.restore({}, [])
    }
    conn.open(listen)
  }

  function listen(s: Socket) {
    s.on('message', (m: Message) => state.ingest(m, 'push'))
    s.on('message:update', (m: Message) => state.ingest(m, 'push'))
    s.on('channel', (c: Channel) => {
      state.put(c)
      state.persistChannels()
      sync.scheduleSync()
    })
    s.on('channel:update', state.update)
    s.on('channel:removed', ({ channel_id }: { channel_id: number }) => state.forget(channel_id))
    s.on('presence', ({ user_id, status: st }: { user_id: number; status: PresenceStatus }) => {
      usePresenceStore(pinia).set(user_id, st)
      if (presenceTimer) return
      presenceTimer = setTimeout(() => {
        presenceTimer = null
        void refreshPresence()
      }, 1500)
    })
    s.on('read', state.readBy)
    s.on('typing', typer.pushed)
    s.on('task', ({ todo }: { todo: number }) => { todoCount.value = todo })
  }

  async function onConnect() {
    try {
      await sync.syncAll()
    } catch {
      /* the next connect retries */
    }
    syncedOnce.value = true
    void refreshPresence()
    void refreshTodo()
    if (currentId.value) void openChannel(currentId.value)
    box.flush()
  }

  async function refreshPresence() {
    const s = socket.value
    if (!s?.connected) return
    try {
      const a = await call<{ units: PresenceUnit[]; online: number }>(s, 'presence:list', {})
      usePresenceStore(pinia).setList(a.units)
    } catch {
      /* shown as offline until the next push */
    }
  }

  async function refreshTodo() {
    const s = socket.value
    if (!s?.connected) return
    try {
      todoCount.value = (await call<{ tasks: unknown[] }>(s, 'flow:tasks', { box: 'todo' })).tasks.length
    } catch {
      /* the badge waits for the next push */
    }
  }

  // ---------- channels and history ----------
  async function openChannel(channelId: number) {
    currentId.value = channelId
    await pages.loadNewest(channelId)
    const ch = channels.value[channelId]
    if (ch && ch.member_count <= RECEIPTS_MAX) void loadMembers(channelId)
    if (!document.hidden) scheduleRead(channelId)
  }

  async function loadMembers(channelId: number) {
    const s = socket.value
    if (!s?.connected) return
    try {
      const a = await call<{ members: Member[] }>(s, 'channel:members', { channel_id: channelId })
      members.value = { ...members.value, [channelId]: a.members }
      const r: Record<number, number> = {}
      for (const m of a.members) r[m.id] = m.last_read_seq
      reads.value = { ...reads.value, [channelId]: r }
    } catch {
      /* receipts stay hidden */
    }
  }

  const readTimers = new Map<number, ReturnType<typeof setTimeout>>()
  function scheduleRead(channelId: number) {
    if (readTimers.has(channelId)) return
    readTimers.set(
      channelId,
      setTimeout(() => {
        readTimers.delete(channelId)
        void markRead(channelId)
      }, 120),
    )
  }
  async function markRead(channelId: number) {
    const ch = channels.value[channelId]
    const s = socket.value
    if (!ch || !s?.connected) return
    const seq = Math.max(ch.head_seq, state.newestSeq(channelId), state.getCursors()[String(channelId)] ?? 0)
    if (seq <= ch.last_read_seq && !ch.unread && !ch.mentions) return
    ch.unread = 0
    ch.mentions = 0
    try {
      const a = await call<{ seq: number }>(s, 'read', { channel_id: channelId, seq })
      ch.last_read_seq = Math.max(ch.last_read_seq, a.seq)
    } catch {
      /* the badge comes back with the next sync */
    }
  }

  // ---------- other actions ----------
  function need(): Socket {
    const s = socket.value
    if (!s?.connected) throw new ApiError('unavailable', i18n.global.t('conn.reconnecting'))
    return s
  }
  async function edit(messageId: number, text: string) {
    const a = await call<{ message: Message }>(need(), 'message:edit', { message_id: messageId, text })
    state.ingest(a.message, 'ack')
  }
  async function recall(messageId: number) {
    const a = await call<{ message: Message }>(need(), 'message:recall', { message_id: messageId })
    state.ingest(a.message, 'ack')
  }
  async function cardAction(messageId: number, action: string, comment?: string, choice?: string) {
    const payload: Record<string, unknown> = { message_id: messageId, action }
    if (comment) payload.comment = comment
    if (choice) payload.choice = choice
    const a = await call<{ message: Message }>(need(), 'card:action', payload)
    if (a.message) state.ingest(a.message, 'ack')
  }
  /** `/trigger args`: run a slash command; its answer arrives as a bot's message. */
  async function runCommand(channelId: number, text: string) {
    await call<{ command: string }>(need(), 'command:run', { channel_id: channelId, text })
  }
  /** a channel created, joined or a direct one opened: shown at once, its messages follow with a sync */
  async function adopt(event: string, payload: object): Promise<Channel> {
    const a = await call<{ channel: Channel }>(need(), event, payload)
    state.put(a.channel)
    sync.scheduleSync()
    return a.channel
  }
  const createChannel = (p: { name: string; kind: 'public' | 'private'; topic?: string; member_ids?: number[] }) => adopt('channel:create', p)
  const join = (channelId: number) => adopt('channel:join', { channel_id: channelId })
  const openDm = (userId: number) => adopt('dm:open', { user_id: userId })
  async function listPublic(): Promise<PublicChannel[]> {
    return (await call<{ channels: PublicChannel[] }>(need(), 'channel:list', { scope: 'public' })).channels
  }

  function stop() {
    conn.stop()
    box.clear()
    state.clear()
    store = null
    syncedOnce.value = false
  }

  const { messagesOf, messageById } = state
  const { syncAll } = sync
  const { history, hist, loadOlder, loadThread } = pages
  const { typing, send: sendTyping } = typer
  const { entries: outbox, restored, send, retry, discard, takeBack } = box
  return {
    me, socket, status, channels, channelList, currentId, current, outbox, versions, history, members, reads, typing,
    totalUnread, sessionEnded, syncedOnce, todoCount,
    start, stop, openChannel, loadOlder, loadThread, loadMembers, markRead, scheduleRead, sendTyping,
    restored, send, retry, discard, takeBack, edit, runCommand, recall, cardAction, createChannel, listPublic, join, openDm,
    messagesOf, messageById, hist, syncAll,
  }
})

export const useChatStoreOutside = () => useChatStore(pinia)
export type { Card }

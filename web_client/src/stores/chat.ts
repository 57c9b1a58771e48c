// The realtime state: one socket, the channel list, a message log per channel, the
// cursors of docs/protocol.md and the outbox. Logs are kept out of Vue's reactivity
// (10,000 messages) and a version counter per channel tells views to re-read them.
import { defineStore } from 'pinia'
import { computed, markRaw, reactive, ref, shallowRef } from 'vue'
import type { Card, Channel, Member, Message, PresenceStatus, PresenceUnit, PublicChannel, UserRef } from '@/apis/types'
import { ApiError, getBearer } from '@/http/request'
import { applyMessage, advanceCursor, emptyLog, type Log } from '@/realtime/apply'
import { cachedTail, openDb, type ClientDb } from '@/realtime/db'
import { call, connect, type Socket } from '@/realtime/socket'
import { createOutbox } from './outbox'
import { currentLocale, i18n } from '@/i18n'
import { pinia } from './pinia'
import { usePresenceStore } from './presence'

export type ConnStatus = 'connecting' | 'online' | 'offline'

interface HistoryState {
  hasMore: boolean
  loading: boolean
  /** the newest page was fetched in this session */
  fresh: boolean
}

interface SyncAnswer {
  messages: Message[]
  cursors: Record<string, number>
  has_more: boolean
  channels?: Channel[]
}

const HISTORY_PAGE = 100
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
  const socket = shallowRef<Socket | null>(null)
  const status = ref<ConnStatus>('connecting')
  const channels = ref<Record<number, Channel>>({})
  const currentId = ref<number | null>(null)
  const versions = reactive<Record<number, number>>({})
  const history = reactive<Record<number, HistoryState>>({})
  const members = ref<Record<number, Member[]>>({})
  /** read positions per channel (user id → last_read_seq), from channel:members and `read` pushes */
  const reads = ref<Record<number, Record<number, number>>>({})
  const typing = ref<Record<number, Record<number, { name: string; until: number }>>>({})
  const sessionEnded = ref(false)
  const syncedOnce = ref(false)

  const logs = markRaw(new Map<number, Log>())
  let cursors: Record<string, number> = {}
  let store: ClientDb | null = null
  let syncing: Promise<void> | null = null
  let syncAgain = false
  let persistQueue: Message[] = []
  let persistTimer: ReturnType<typeof setTimeout> | null = null
  let cursorTimer: ReturnType<typeof setTimeout> | null = null
  let presenceTimer: ReturnType<typeof setTimeout> | null = null
  let lastTyping = 0
  let onNotify: ((m: Message, ch: Channel) => void) | null = null
  let onEnded: (() => void) | null = null

  const channelList = computed(() => Object.values(channels.value))
  const totalUnread = computed(() => channelList.value.reduce((n, c) => n + (c.unread || 0), 0))
  const current = computed(() => (currentId.value ? channels.value[currentId.value] : undefined))

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
  function hist(channelId: number): HistoryState {
    if (!history[channelId]) history[channelId] = { hasMore: true, loading: false, fresh: false }
    return history[channelId]
  }

  // ---------- persistence ----------
  function persist(ms: Message[]) {
    if (!store) return
    persistQueue.push(...ms)
    if (persistTimer) return
    persistTimer = setTimeout(() => {
      persistTimer = null
      const batch = persistQueue
      persistQueue = []
      store?.messages.bulkPut(batch).catch(() => {})
    }, 250)
  }
  function persistCursors() {
    if (cursorTimer) return
    cursorTimer = setTimeout(() => {
      cursorTimer = null
      store?.meta.put({ key: 'cursors', value: { ...cursors } }).catch(() => {})
    }, 300)
  }
  function persistChannels() {
    if (!store) return
    const list = Object.values(channels.value).map((c) => JSON.parse(JSON.stringify(c)) as Channel)
    store.transaction('rw', store.channels, async () => {
      await store!.channels.clear()
      await store!.channels.bulkPut(list)
    }).catch(() => {})
  }

  // ---------- applying messages ----------
  /** Apply one message (push, ack, sync or history); returns true if it was new to this client. */
  function ingest(m: Message, source: 'push' | 'sync' | 'history' | 'ack'): boolean {
    const l = log(m.channel_id)
    const isNew = !l.byId.has(m.id)
    const changed = applyMessage(l, m)
    if (source === 'push' || source === 'ack') {
      const r = advanceCursor(cursors[String(m.channel_id)], m.change_seq)
      if (r.gap) scheduleSync()
      else if (r.cursor !== undefined && r.cursor !== cursors[String(m.channel_id)]) {
        cursors[String(m.channel_id)] = r.cursor
        persistCursors()
      }
    }
    if (m.sender.id === me.value?.id && m.client_msg_id) dropOutbox(m.client_msg_id)
    const ch = channels.value[m.channel_id]
    if (ch) {
      if (m.change_seq > ch.head_seq) ch.head_seq = m.change_seq
      if (isNew && source === 'push' && m.sender.id !== me.value?.id && !m.recalled && m.seq > ch.last_read_seq) {
        if (currentId.value === m.channel_id && !document.hidden) scheduleRead(m.channel_id)
        else {
          ch.unread = (ch.unread || 0) + 1
          if (me.value && m.mentions.includes(me.value.id)) ch.mentions = (ch.mentions || 0) + 1
        }
        if (document.hidden && onNotify && (ch.kind === 'direct' || (me.value && m.mentions.includes(me.value.id)))) onNotify(m, ch)
      }
      if (m.sender.id === me.value?.id && m.seq > ch.last_read_seq) ch.last_read_seq = m.seq
    }
    // sending moves the sender's read position to the message (without a `read` push)
    const r = reads.value[m.channel_id]
    if (r && isNew && (r[m.sender.id] ?? 0) < m.seq) r[m.sender.id] = m.seq
    if (changed) {
      persist([m])
      bump(m.channel_id)
    }
    return isNew
  }

  /** `keep: false` for older history pages: the cache only needs a channel's newest messages */
  function ingestMany(ms: Message[], source: 'sync' | 'history', keep = true) {
    const touched = new Set<number>()
    const changedMs: Message[] = []
    for (const m of ms) {
      if (applyMessage(log(m.channel_id), m)) {
        touched.add(m.channel_id)
        changedMs.push(m)
      }
      if (m.sender.id === me.value?.id && m.client_msg_id) dropOutbox(m.client_msg_id)
      const ch = channels.value[m.channel_id]
      if (ch && m.change_seq > ch.head_seq) ch.head_seq = m.change_seq
    }
    if (changedMs.length && keep) persist(changedMs)
    for (const id of touched) bump(id)
    void source
  }

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
      cursors = (cur?.value as Record<string, number>) ?? {}
      if (!Object.keys(channels.value).length) for (const c of chans) channels.value[c.id] = c
      outbox.value = saved
    } catch {
      cursors = {}
    }
    const s = connect({ token: getBearer(), locale: currentLocale() })
    socket.value = markRaw(s)
    status.value = 'connecting'
    s.on('connect', onConnect)
    s.on('disconnect', (reason) => {
      status.value = 'offline'
      if (reason === 'io server disconnect') void serverClosed()
    })
    s.on('connect_error', (err: Error & { data?: { code?: string } }) => {
      status.value = 'offline'
      if (err.data?.code === 'unauthorized') endSession()
      else if (!s.active) setTimeout(() => !sessionEnded.value && s.connect(), 2000)
    })
    // the transport failing before a connect (hub unreachable) also counts as offline
    s.io.on('error', () => {
      if (!s.connected) status.value = 'offline'
    })
    s.io.on('reconnect_attempt', () => {
      if (!s.connected) status.value = 'offline'
    })
    s.on('message', (m: Message) => ingest(m, 'push'))
    s.on('message:update', (m: Message) => ingest(m, 'push'))
    s.on('channel', (c: Channel) => {
      channels.value[c.id] = c
      persistChannels()
      scheduleSync()
    })
    s.on('channel:update', (u: Partial<Channel> & { channel_id: number }) => {
      const c = channels.value[u.channel_id]
      if (!c) return
      for (const k of ['name', 'topic', 'read_only'] as const) if (k in u) (c as unknown as Record<string, unknown>)[k] = u[k]
      persistChannels()
    })
    s.on('channel:removed', ({ channel_id }: { channel_id: number }) => forget(channel_id))
    s.on('presence', ({ user_id, status: st }: { user_id: number; status: PresenceStatus }) => {
      usePresenceStore(pinia).set(user_id, st)
      if (presenceTimer) return
      presenceTimer = setTimeout(() => {
        presenceTimer = null
        void refreshPresence()
      }, 1500)
    })
    s.on('read', ({ channel_id, user_id, seq }: { channel_id: number; user_id: number; seq: number }) => {
      const r = reads.value[channel_id]
      if (r) r[user_id] = Math.max(r[user_id] ?? 0, seq)
      if (user_id === me.value?.id) {
        const c = channels.value[channel_id]
        if (c && seq >= c.last_read_seq) {
          c.last_read_seq = seq
          if (seq >= c.head_seq) {
            c.unread = 0
            c.mentions = 0
          }
        }
      }
    })
    s.on('typing', ({ channel_id, user_id, display_name }: { channel_id: number; user_id: number; display_name: string }) => {
      const t = { ...(typing.value[channel_id] ?? {}) }
      t[user_id] = { name: display_name, until: Date.now() + 5000 }
      typing.value = { ...typing.value, [channel_id]: t }
      setTimeout(pruneTyping, 5100)
    })
    window.addEventListener('offline', goOffline)
    window.addEventListener('online', goOnline)
    document.addEventListener('visibilitychange', onVisibility)
  }

  function goOffline() {
    // the browser knows the network is gone: do not wait for the heartbeat to notice
    status.value = 'offline'
    socket.value?.disconnect()
  }
  function goOnline() {
    if (!sessionEnded.value && socket.value && !socket.value.connected) socket.value.connect()
  }
  function onVisibility() {
    if (!document.hidden && currentId.value) scheduleRead(currentId.value)
    const s = socket.value
    if (s?.connected) s.emit('presence:set', { status: document.hidden ? 'away' : 'online' })
  }

  async function serverClosed() {
    // logout elsewhere, a password change or an administrator: is the session still good?
    try {
      const r = await fetch('/api/v1/auth/session', { credentials: 'same-origin' })
      if (r.ok && !getBearer()) {
        socket.value?.connect()
        return
      }
    } catch {
      setTimeout(() => socket.value?.connect(), 2000)
      return
    }
    endSession()
  }

  function endSession() {
    if (sessionEnded.value) return
    sessionEnded.value = true
    onEnded?.()
  }

  async function onConnect() {
    status.value = 'online'
    try {
      await syncAll()
    } catch {
      /* the next connect retries */
    }
    syncedOnce.value = true
    void refreshPresence()
    if (currentId.value) void openChannel(currentId.value)
    flushOutbox()
    if (document.hidden) socket.value?.emit('presence:set', { status: 'away' })
  }

  function scheduleSync() {
    if (syncing) {
      syncAgain = true
      return
    }
    void syncAll().catch(() => {})
  }

  async function syncAll(): Promise<void> {
    if (syncing) {
      syncAgain = true
      return syncing
    }
    syncing = (async () => {
      try {
        do {
          syncAgain = false
          for (;;) {
            const s = socket.value
            if (!s?.connected) return
            const a = await call<SyncAnswer>(s, 'sync', { cursors, limit: 500 }, 20_000)
            ingestMany(a.messages, 'sync')
            cursors = { ...a.cursors }
            persistCursors()
            if (a.channels) {
              const next: Record<number, Channel> = {}
              for (const c of a.channels) next[c.id] = c
              for (const id of Object.keys(channels.value).map(Number)) if (!next[id]) forget(id)
              channels.value = next
              persistChannels()
              if (currentId.value && !document.hidden) scheduleRead(currentId.value)
            }
            if (!a.has_more) break
          }
        } while (syncAgain)
      } finally {
        syncing = null
      }
    })()
    return syncing
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

  function forget(channelId: number) {
    const next = { ...channels.value }
    delete next[channelId]
    channels.value = next
    logs.delete(channelId)
    delete cursors[String(channelId)]
    if (currentId.value === channelId) currentId.value = null
    persistChannels()
  }

  // ---------- channels and history ----------
  async function openChannel(channelId: number) {
    currentId.value = channelId
    const l = log(channelId)
    if (!l.order.length && store) {
      const cached = await cachedTail(store, channelId).catch(() => [])
      if (cached.length && !l.order.length) {
        for (const m of cached) applyMessage(l, m)
        bump(channelId)
      }
    }
    const s = socket.value
    const h = hist(channelId)
    if (s?.connected && !h.fresh && !h.loading) {
      h.loading = true
      try {
        const a = await call<{ messages: Message[]; has_more: boolean }>(s, 'history', { channel_id: channelId, limit: HISTORY_PAGE })
        const newestCached = l.order.length ? l.byId.get(l.order[l.order.length - 1])!.seq : 0
        if (a.has_more && a.messages.length && a.messages[0].seq > newestCached && l.order.length) {
          // the cache ends before this page begins: show the contiguous newest page only
          const fresh = emptyLog()
          for (const m of a.messages) applyMessage(fresh, m)
          l.byId = fresh.byId
          l.order = fresh.order
          persist(a.messages)
        } else ingestMany(a.messages, 'history')
        h.hasMore = a.has_more
        h.fresh = true
        bump(channelId)
      } catch {
        /* cached messages stay on screen */
      } finally {
        h.loading = false
      }
    }
    const ch = channels.value[channelId]
    if (ch && ch.member_count <= RECEIPTS_MAX) void loadMembers(channelId)
    if (!document.hidden) scheduleRead(channelId)
  }

  async function loadOlder(channelId: number): Promise<number> {
    const s = socket.value
    const h = hist(channelId)
    const l = log(channelId)
    if (!s?.connected || h.loading || !h.hasMore || !l.order.length) return 0
    h.loading = true
    try {
      const before = l.byId.get(l.order[0])!.seq
      const a = await call<{ messages: Message[]; has_more: boolean }>(s, 'history', { channel_id: channelId, before_seq: before, limit: 200 })
      ingestMany(a.messages, 'history', false)
      h.hasMore = a.has_more
      return a.messages.length
    } catch {
      return 0
    } finally {
      h.loading = false
    }
  }

  async function loadThread(channelId: number, rootId: number) {
    const s = socket.value
    if (!s?.connected) return
    const a = await call<{ messages: Message[]; has_more: boolean }>(s, 'history', { channel_id: channelId, thread_root_id: rootId, limit: 200 })
    ingestMany(a.messages, 'history')
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
    const l = log(channelId)
    const newest = l.order.length ? l.byId.get(l.order[l.order.length - 1])!.seq : 0
    const seq = Math.max(ch.head_seq, newest, cursors[String(channelId)] ?? 0)
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

  function pruneTyping() {
    const now = Date.now()
    const next: typeof typing.value = {}
    for (const [cid, users] of Object.entries(typing.value)) {
      const keep = Object.fromEntries(Object.entries(users).filter(([, v]) => v.until > now))
      if (Object.keys(keep).length) next[Number(cid)] = keep
    }
    typing.value = next
  }

  function sendTyping(channelId: number) {
    const now = Date.now()
    if (now - lastTyping < 3000) return
    lastTyping = now
    const s = socket.value
    if (s?.connected) s.emit('typing', { channel_id: channelId }, () => {})
  }

  // ---------- sending: everything goes through the outbox (stores/outbox.ts) ----------
  const box = createOutbox({ socket: () => socket.value, db: () => store, acked: (m) => ingest(m, 'ack') })
  const outbox = box.entries
  const restored = box.restored
  const dropOutbox = box.drop
  const flushOutbox = box.flush
  const { send, retry, discard, takeBack } = box

  // ---------- other actions ----------
  function need(): Socket {
    const s = socket.value
    if (!s?.connected) throw new ApiError('unavailable', i18n.global.t('conn.reconnecting'))
    return s
  }
  async function edit(messageId: number, text: string) {
    const a = await call<{ message: Message }>(need(), 'message:edit', { message_id: messageId, text })
    ingest(a.message, 'ack')
  }
  async function recall(messageId: number) {
    const a = await call<{ message: Message }>(need(), 'message:recall', { message_id: messageId })
    ingest(a.message, 'ack')
  }
  async function cardAction(messageId: number, action: string, comment?: string) {
    const payload: Record<string, unknown> = { message_id: messageId, action }
    if (comment) payload.comment = comment
    const a = await call<{ message: Message }>(need(), 'card:action', payload)
    if (a.message) ingest(a.message, 'ack')
  }
  /** `/trigger args`: run a slash command; its answer arrives as a bot's message. */
  async function runCommand(channelId: number, text: string) {
    await call<{ command: string }>(need(), 'command:run', { channel_id: channelId, text })
  }
  async function createChannel(p: { name: string; kind: 'public' | 'private'; topic?: string; member_ids?: number[] }) {
    const a = await call<{ channel: Channel }>(need(), 'channel:create', p)
    channels.value[a.channel.id] = a.channel
    scheduleSync()
    return a.channel
  }
  async function listPublic(): Promise<PublicChannel[]> {
    return (await call<{ channels: PublicChannel[] }>(need(), 'channel:list', { scope: 'public' })).channels
  }
  async function join(channelId: number) {
    const a = await call<{ channel: Channel }>(need(), 'channel:join', { channel_id: channelId })
    channels.value[a.channel.id] = a.channel
    scheduleSync()
    return a.channel
  }
  async function openDm(userId: number) {
    const a = await call<{ channel: Channel }>(need(), 'dm:open', { user_id: userId })
    channels.value[a.channel.id] = a.channel
    scheduleSync()
    return a.channel
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

  function stop() {
    window.removeEventListener('offline', goOffline)
    window.removeEventListener('online', goOnline)
    document.removeEventListener('visibilitychange', onVisibility)
    socket.value?.removeAllListeners()
    socket.value?.disconnect()
    socket.value = null
    box.clear()
    logs.clear()
    channels.value = {}
    currentId.value = null
    cursors = {}
    store = null
    syncedOnce.value = false
  }

  return {
    me, socket, status, channels, channelList, currentId, current, outbox, versions, history, members, reads, typing,
    totalUnread, sessionEnded, syncedOnce,
    start, stop, openChannel, loadOlder, loadThread, loadMembers, markRead, scheduleRead, sendTyping,
    restored, send, retry, discard, takeBack, edit, runCommand, recall, cardAction, createChannel, listPublic, join, openDm,
    messagesOf, messageById, hist, syncAll,
  }
})

export const useChatStoreOutside = () => useChatStore(pinia)
export type { Card }

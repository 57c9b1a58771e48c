// Paging a channel's messages: the cached tail at once, the newest page from the hub once
// per session, older pages as the view scrolls up, and a thread's replies.
import { reactive } from 'vue'
import type { Message } from '@/apis/types'
import { applyMessage, emptyLog } from '@/realtime/apply'
import { cachedTail, type ClientDb } from '@/realtime/db'
import { call, type Socket } from '@/realtime/socket'
import type { ChannelState } from './channels'

export interface HistoryState {
  hasMore: boolean
  loading: boolean
  /** the newest page was fetched in this session */
  fresh: boolean
}

export interface HistoryDeps {
  socket: () => Socket | null
  db: () => ClientDb | null
  channels: Pick<ChannelState, 'log' | 'bump' | 'persist' | 'ingestMany' | 'newestSeq'>
}

const HISTORY_PAGE = 100

export function createHistory(deps: HistoryDeps) {
  const history = reactive<Record<number, HistoryState>>({})
  const { log, bump } = deps.channels

  function hist(channelId: number): HistoryState {
    if (!history[channelId]) history[channelId] = { hasMore: true, loading: false, fresh: false }
    return history[channelId]
  }

  async function loadNewest(channelId: number) {
    const l = log(channelId)
    const store = deps.db()
    if (!l.order.length && store) {
      const cached = await cachedTail(store, channelId).catch(() => [])
      if (cached.length && !l.order.length) {
        for (const m of cached) applyMessage(l, m)
        bump(channelId)
      }
    }
    const s = deps.socket()
    const h = hist(channelId)
    if (!s?.connected || h.fresh || h.loading) return
    h.loading = true
    try {
      const a = await call<{ messages: Message[]; has_more: boolean }>(s, 'history', { channel_id: channelId, limit: HISTORY_PAGE })
      const newestCached = deps.channels.newestSeq(channelId)
      if (a.has_more && a.messages.length && a.messages[0].seq > newestCached && l.order.length) {
        // the cache ends before this page begins: show the contiguous newest page only
        const fresh = emptyLog()
        for (const m of a.messages) applyMessage(fresh, m)
        l.byId = fresh.byId
        l.order = fresh.order
        deps.channels.persist(a.messages)
      } else deps.channels.ingestMany(a.messages)
      h.hasMore = a.has_more
      h.fresh = true
      bump(channelId)
    } catch {
      /* cached messages stay on screen */
    } finally {
      h.loading = false
    }
  }

  /** resolves to how many older messages arrived (0: nothing more, or not now) */
  async function loadOlder(channelId: number): Promise<number> {
    const s = deps.socket()
    const h = hist(channelId)
    const l = log(channelId)
    if (!s?.connected || h.loading || !h.hasMore || !l.order.length) return 0
    h.loading = true
    try {
      const before = l.byId.get(l.order[0])!.seq
      const a = await call<{ messages: Message[]; has_more: boolean }>(s, 'history', { channel_id: channelId, before_seq: before, limit: 200 })
      deps.channels.ingestMany(a.messages, false)
      h.hasMore = a.has_more
      return a.messages.length
    } catch {
      return 0
    } finally {
      h.loading = false
    }
  }

  async function loadThread(channelId: number, rootId: number) {
    const s = deps.socket()
    if (!s?.connected) return
    const a = await call<{ messages: Message[]; has_more: boolean }>(s, 'history', { channel_id: channelId, thread_root_id: rootId, limit: 200 })
    deps.channels.ingestMany(a.messages)
  }

  return { history, hist, loadNewest, loadOlder, loadThread }
}

// The outbox: every message a person sends waits here, durable in IndexedDB, until the
// hub acknowledges it. One client_msg_id per entry, so a retry never makes a second
// message; a refusal the same text would meet again (too_large, bad_request) is kept as
// failed, with the reason, for the person to edit or delete, and never sent again.
import { ref } from 'vue'
import type { Message } from '@/apis/types'
import { ApiError } from '@/http/request'
import type { ClientDb, OutboxEntry } from '@/realtime/db'
import { call, MAX_EVENT_BYTES, PERMANENT, RETRYABLE, type Socket } from '@/realtime/socket'
import { i18n } from '@/i18n'

export interface OutboxDeps {
  socket: () => Socket | null
  db: () => ClientDb | null
  /** the hub stored the message: show it */
  acked: (m: Message) => void
}

export type SendOptions = { file_id?: string; file_name?: string; thread_root_id?: number }

function uuid(): string {
  if (crypto.randomUUID) return crypto.randomUUID()
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16)
  })
}

export function createOutbox(deps: OutboxDeps) {
  const entries = ref<OutboxEntry[]>([])
  /** a refused entry given back to its composer to edit */
  const restored = ref<{ channel_id: number; thread_root_id?: number; text: string } | null>(null)
  const retryTimers = new Map<string, ReturnType<typeof setTimeout>>()
  const inFlight = new Set<string>()

  function drop(clientMsgId: string) {
    if (!entries.value.some((e) => e.client_msg_id === clientMsgId)) return
    entries.value = entries.value.filter((e) => e.client_msg_id !== clientMsgId)
    const t = retryTimers.get(clientMsgId)
    if (t) clearTimeout(t)
    retryTimers.delete(clientMsgId)
    deps.db()?.outbox.delete(clientMsgId).catch(() => {})
  }

  async function send(channelId: number, text: string, opts: SendOptions = {}) {
    const entry: OutboxEntry = {
      client_msg_id: uuid(),
      channel_id: channelId,
      text,
      created_at: new Date().toISOString(),
      state: 'pending',
      ...opts,
    }
    // Durable first, shown second: a row marked pending is already in IndexedDB, so a
    // reload (or a closed tab) right after Enter cannot lose it.
    try {
      await deps.db()?.outbox.put(entry)
    } catch {
      /* kept in memory at least */
    }
    entries.value = [...entries.value, entry]
    void trySend(entry, 0)
  }

  async function trySend(entry: OutboxEntry, attempt: number) {
    const s = deps.socket()
    if (entry.state !== 'pending' || !s?.connected || inFlight.has(entry.client_msg_id)) return
    const payload: Record<string, unknown> = { channel_id: entry.channel_id, client_msg_id: entry.client_msg_id, text: entry.text }
    if (entry.file_id) payload.file_id = entry.file_id
    if (entry.thread_root_id) payload.thread_root_id = entry.thread_root_id
    if (new TextEncoder().encode(JSON.stringify(payload)).length > MAX_EVENT_BYTES) {
      // the hub would refuse it: say so now, without a round trip
      markFailed(entry, new ApiError('too_large', i18n.global.t('chat.tooLarge', { kib: MAX_EVENT_BYTES / 1024 })))
      return
    }
    inFlight.add(entry.client_msg_id)
    try {
      const a = await call<{ message: Message }>(s, 'message:send', payload, 15_000)
      deps.acked(a.message)
      drop(entry.client_msg_id)
    } catch (e) {
      const err = e as ApiError
      const still = entries.value.find((x) => x.client_msg_id === entry.client_msg_id)
      if (!still) return
      if (RETRYABLE.has(err.code) && attempt < 6) {
        // same client_msg_id: a retry never makes a second message
        const delay = Math.min(30_000, 1000 * 2 ** attempt)
        retryTimers.set(entry.client_msg_id, setTimeout(() => void trySend(still, attempt + 1), delay))
      } else {
        markFailed(still, err)
      }
    } finally {
      inFlight.delete(entry.client_msg_id)
    }
  }

  function markFailed(entry: OutboxEntry, err: ApiError) {
    const updated: OutboxEntry = { ...entry, state: 'failed', error: err.message || err.code, error_code: err.code }
    entries.value = entries.value.map((e) => (e.client_msg_id === entry.client_msg_id ? updated : e))
    deps.db()?.outbox.put(updated).catch(() => {})
  }

  /** After a (re)connect: what is pending, in the order it was written, one after another. */
  function flush() {
    const pending = entries.value.filter((e) => e.state === 'pending')
    void (async () => {
      for (const e of pending) await trySend(e, 0)
    })()
  }

  function retry(clientMsgId: string) {
    const e = entries.value.find((x) => x.client_msg_id === clientMsgId)
    if (!e || (e.error_code && PERMANENT.has(e.error_code))) return // the same text would be refused again
    const again: OutboxEntry = { ...e, state: 'pending', error: undefined, error_code: undefined }
    entries.value = entries.value.map((x) => (x.client_msg_id === clientMsgId ? again : x))
    deps.db()?.outbox.put(again).catch(() => {})
    void trySend(again, 0)
  }

  function takeBack(clientMsgId: string) {
    const e = entries.value.find((x) => x.client_msg_id === clientMsgId)
    if (!e) return
    restored.value = { channel_id: e.channel_id, thread_root_id: e.thread_root_id, text: e.text }
    drop(clientMsgId)
  }

  function clear() {
    for (const t of retryTimers.values()) clearTimeout(t)
    retryTimers.clear()
    entries.value = []
  }

  return { entries, restored, send, flush, retry, discard: drop, drop, takeBack, clear }
}

export type Outbox = ReturnType<typeof createOutbox>

// The sync loop of docs/protocol.md: everything after our cursors, page by page while
// has_more, each page's cursors taken before the next is asked for. One round runs at a
// time; any number of requests during it make exactly one more round, not one each.
import type { Channel, Message } from '@/apis/types'
import { call, type Socket } from '@/realtime/socket'

export interface SyncAnswer {
  messages: Message[]
  cursors: Record<string, number>
  has_more: boolean
  channels?: Channel[]
}

export interface SyncDeps {
  socket: () => Socket | null
  cursors: () => Record<string, number>
  setCursors: (c: Record<string, number>) => void
  ingestMany: (ms: Message[]) => void
  /** the hub's full channel list, sent with the answer: it replaces ours */
  onChannels: (list: Channel[]) => void
}

export function createSync(deps: SyncDeps) {
  let syncing: Promise<void> | null = null
  let syncAgain = false

  /** fire and forget: a failed round waits for the next push, gap or connect */
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
            const s = deps.socket()
            if (!s?.connected) return
            const a = await call<SyncAnswer>(s, 'sync', { cursors: deps.cursors(), limit: 500 }, 20_000)
            deps.ingestMany(a.messages)
            deps.setCursors({ ...a.cursors })
            if (a.channels) deps.onChannels(a.channels)
            if (!a.has_more) break
          }
        } while (syncAgain)
      } finally {
        syncing = null
      }
    })()
    return syncing
  }

  return { syncAll, scheduleSync }
}

export type Sync = ReturnType<typeof createSync>

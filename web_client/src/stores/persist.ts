// Writes to the per-user IndexedDB cache (realtime/db.ts), batched so a burst of pushes
// or a sync page is one write. Best effort: a failed write only makes the next start slower.
import type { Channel, Message } from '@/apis/types'
import type { ClientDb } from '@/realtime/db'

export function createPersistence(db: () => ClientDb | null) {
  let queue: Message[] = []
  let messageTimer: ReturnType<typeof setTimeout> | null = null
  let cursorTimer: ReturnType<typeof setTimeout> | null = null

  function messages(ms: Message[]) {
    if (!db()) return
    queue.push(...ms)
    if (messageTimer) return
    messageTimer = setTimeout(() => {
      messageTimer = null
      const batch = queue
      queue = []
      db()?.messages.bulkPut(batch).catch(() => {})
    }, 250)
  }

  /** read when the timer fires, so the newest cursors are the ones written */
  function cursors(current: () => Record<string, number>) {
    if (cursorTimer) return
    cursorTimer = setTimeout(() => {
      cursorTimer = null
      db()?.meta.put({ key: 'cursors', value: { ...current() } }).catch(() => {})
    }, 300)
  }

  /** the whole list replaces what was cached: a channel left is not offered on the next start */
  function channels(list: Channel[]) {
    const d = db()
    if (!d) return
    const rows = list.map((c) => JSON.parse(JSON.stringify(c)) as Channel)
    d.transaction('rw', d.channels, async () => {
      await db()!.channels.clear()
      await db()!.channels.bulkPut(rows)
    }).catch(() => {})
  }

  return { messages, cursors, channels }
}

export type Persistence = ReturnType<typeof createPersistence>

// What the browser keeps, per user (IndexedDB through Dexie): the message cache (instant
// channel switch, a reload shows what was there), the sync cursors, the channel list, and
// the outbox of messages not yet acknowledged (a reload while offline loses nothing).
import Dexie, { type Table } from 'dexie'
import type { Channel, Message } from '@/apis/types'

export interface OutboxEntry {
  client_msg_id: string
  channel_id: number
  text: string
  file_id?: string
  file_name?: string
  thread_root_id?: number
  created_at: string
  /** pending: will be (re)sent; failed: refused for good, waits for the user's retry */
  state: 'pending' | 'failed'
  error?: string
  /** the hub's error code of a refusal; `too_large` and `bad_request` are never sent again as they are */
  error_code?: string
}

export interface MetaRow { key: string; value: unknown }

export class ClientDb extends Dexie {
  messages!: Table<Message, number>
  outbox!: Table<OutboxEntry, string>
  meta!: Table<MetaRow, string>
  channels!: Table<Channel, number>

  constructor(name: string) {
    super(name)
    this.version(1).stores({
      messages: 'id, [channel_id+seq]',
      outbox: 'client_msg_id, channel_id, created_at',
      meta: 'key',
      channels: 'id',
    })
  }
}

let current: ClientDb | null = null

export function openDb(userId: number): ClientDb {
  const name = `changtong-u${userId}`
  if (current?.name !== name) {
    current?.close()
    current = new ClientDb(name)
  }
  return current
}

export function db(): ClientDb | null {
  return current
}

export async function dropDb(): Promise<void> {
  if (!current) return
  const d = current
  current = null
  d.close()
  await Dexie.delete(d.name)
}

/** The newest `limit` cached messages of a channel, oldest first. */
export async function cachedTail(d: ClientDb, channelId: number, limit = 200): Promise<Message[]> {
  const rows = await d.messages
    .where('[channel_id+seq]')
    .between([channelId, Dexie.minKey], [channelId, Dexie.maxKey])
    .reverse()
    .limit(limit)
    .toArray()
  return rows.reverse()
}

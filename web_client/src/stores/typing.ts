// Who is typing where: a `typing` push shows its person for 5 s; our own typing is
// announced at most every 3 s.
import { ref } from 'vue'
import type { Socket } from '@/realtime/socket'

export type Typing = Record<number, Record<number, { name: string; until: number }>>

export function createTyping(socket: () => Socket | null) {
  const typing = ref<Typing>({})
  let lastTyping = 0

  function pushed({ channel_id, user_id, display_name }: { channel_id: number; user_id: number; display_name: string }) {
    const t = { ...(typing.value[channel_id] ?? {}) }
    t[user_id] = { name: display_name, until: Date.now() + 5000 }
    typing.value = { ...typing.value, [channel_id]: t }
    setTimeout(prune, 5100)
  }

  function prune() {
    const now = Date.now()
    const next: Typing = {}
    for (const [cid, users] of Object.entries(typing.value)) {
      const keep = Object.fromEntries(Object.entries(users).filter(([, v]) => v.until > now))
      if (Object.keys(keep).length) next[Number(cid)] = keep
    }
    typing.value = next
  }

  function send(channelId: number) {
    const now = Date.now()
    if (now - lastTyping < 3000) return
    lastTyping = now
    const s = socket()
    if (s?.connected) s.emit('typing', { channel_id: channelId }, () => {})
  }

  return { typing, pushed, send }
}

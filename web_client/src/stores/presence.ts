// Who is online, city-wide: presence:list for the picture, `presence` pushes for changes.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { PresenceStatus, PresenceUnit } from '@/apis/types'

export const usePresenceStore = defineStore('presence', () => {
  const status = ref<Record<number, PresenceStatus>>({})
  const units = ref<PresenceUnit[]>([])
  const online = computed(() => Object.values(status.value).filter((s) => s !== 'offline').length)

  function setList(list: PresenceUnit[]) {
    units.value = list
    const next: Record<number, PresenceStatus> = {}
    for (const u of list) for (const p of u.users) next[p.id] = p.status
    status.value = next
  }

  function set(userId: number, s: PresenceStatus) {
    status.value = { ...status.value, [userId]: s }
  }

  function of(userId: number): PresenceStatus {
    return status.value[userId] ?? 'offline'
  }

  /** online people per unit id (that unit's own posts) */
  const onlineByUnit = computed(() => {
    const m = new Map<number, number>()
    for (const u of units.value) {
      m.set(u.unit.id, u.users.filter((p) => (status.value[p.id] ?? 'offline') !== 'offline').length)
    }
    return m
  })

  return { status, units, online, setList, set, of, onlineByUnit }
})

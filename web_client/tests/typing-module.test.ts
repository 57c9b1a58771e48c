// stores/typing.ts on its own: how long "… is typing" shows and how often we announce it.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTyping } from '@/stores/typing'
import { FakeSocket } from './fakes'

describe('createTyping', () => {
  afterEach(() => vi.useRealTimers())

  it('shows who is typing for 5 s after their last typing push', async () => {
    vi.useFakeTimers()
    const t = createTyping(() => null)
    t.pushed({ channel_id: 41, user_id: 8, display_name: '李四' })
    expect(t.typing.value[41][8].name).toBe('李四')
    await vi.advanceTimersByTimeAsync(3000)
    t.pushed({ channel_id: 41, user_id: 8, display_name: '李四' })
    await vi.advanceTimersByTimeAsync(3000)
    expect(t.typing.value[41]?.[8]).toBeDefined()
    await vi.advanceTimersByTimeAsync(2200)
    expect(t.typing.value).toEqual({})
  })

  it('announces our typing at most every 3 s, and not while offline', async () => {
    vi.useFakeTimers()
    const fake = new FakeSocket()
    const t = createTyping(() => fake as any)
    t.send(41) // offline: dropped, not queued
    fake.connected = true
    await vi.advanceTimersByTimeAsync(3000)
    t.send(41)
    t.send(41)
    await vi.advanceTimersByTimeAsync(3000)
    t.send(41)
    expect(fake.events('typing')).toHaveLength(2)
  })
})

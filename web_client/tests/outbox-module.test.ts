// stores/outbox.ts on its own (no store, no pinia): what it sends, when it sends again,
// and what it never sends again.
import 'fake-indexeddb/auto'
import { describe, expect, it, vi } from 'vitest'
import { createOutbox } from '@/stores/outbox'
import { openDb } from '@/realtime/db'

function fakeSocket(answer: (payload: any) => any) {
  const sent: any[] = []
  return {
    sent,
    socket: {
      connected: true,
      timeout() {
        return this
      },
      async emitWithAck(_event: string, payload: any) {
        sent.push(payload)
        return answer(payload)
      },
    } as any,
  }
}

const flushPromises = () => new Promise((r) => setTimeout(r, 0))

describe('createOutbox', () => {
  it('retries a retryable refusal with the same client_msg_id, then shows what the hub stored', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    let n = 0
    const { socket, sent } = fakeSocket((p) =>
      ++n === 1 ? { ok: false, error: { code: 'rate_limited', message: '操作过于频繁' } } : { ok: true, message: { id: 5, ...p } },
    )
    const acked: any[] = []
    const box = createOutbox({ socket: () => socket, db: () => openDb(1001), acked: (m) => acked.push(m) })
    await box.send(3, '汇报材料已上传')
    await vi.advanceTimersByTimeAsync(1100)
    expect(sent.map((p) => p.client_msg_id)).toEqual([sent[0].client_msg_id, sent[0].client_msg_id])
    expect(acked.map((m) => m.text)).toEqual(['汇报材料已上传'])
    expect(box.entries.value).toHaveLength(0)
    vi.useRealTimers()
  })

  it('keeps a permanent refusal as failed and leaves it out of every flush', async () => {
    const { socket, sent } = fakeSocket(() => ({ ok: false, error: { code: 'bad_request', message: '请求格式不正确' } }))
    const box = createOutbox({ socket: () => socket, db: () => openDb(1002), acked: () => {} })
    await box.send(3, '第一条')
    await flushPromises()
    box.flush()
    box.flush()
    box.retry(box.entries.value[0].client_msg_id)
    await flushPromises()
    expect(sent).toHaveLength(1)
    expect(box.entries.value[0]).toMatchObject({ state: 'failed', error_code: 'bad_request', error: '请求格式不正确' })
  })

  it('sends what waited while offline in the order it was written', async () => {
    const { socket, sent } = fakeSocket((p) => ({ ok: true, message: { id: sent.length, ...p } }))
    socket.connected = false
    const box = createOutbox({ socket: () => socket, db: () => openDb(1003), acked: () => {} })
    await box.send(3, '一')
    await box.send(3, '二')
    await box.send(4, '三')
    expect(sent).toHaveLength(0)
    socket.connected = true
    box.flush()
    await flushPromises()
    await flushPromises()
    expect(sent.map((p) => p.text)).toEqual(['一', '二', '三'])
  })
})

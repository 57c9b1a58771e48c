// stores/connection.ts on its own (no store, no pinia): the status the banner shows, and
// what happens after the hub or the browser closes the socket.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setBearer } from '@/http/request'
import { createConnection } from '@/stores/connection'
import { FakeSocket, flushPromises, setHidden } from './fakes'

let fake: FakeSocket
vi.mock('@/realtime/socket', async (orig) => {
  const real = await orig<typeof import('@/realtime/socket')>()
  return { ...real, connect: () => fake }
})

function setup() {
  const calls = { connected: 0, ended: 0, visible: 0 }
  const conn = createConnection({
    onConnect: async () => void calls.connected++,
    onEnded: () => void calls.ended++,
    onVisible: () => void calls.visible++,
  })
  const pushed: unknown[] = []
  conn.open((s) => s.on('message', (m) => pushed.push(m)))
  return { conn, calls, pushed }
}

describe('createConnection', () => {
  let conn: ReturnType<typeof setup>['conn'] | undefined
  beforeEach(() => {
    fake = new FakeSocket()
  })
  afterEach(() => {
    conn?.stop()
    conn = undefined
    vi.unstubAllGlobals()
    vi.useRealTimers()
    setHidden(null)
    setBearer(null)
  })

  it('is connecting until the socket connects, online then, offline after a drop', async () => {
    const t = setup()
    conn = t.conn
    expect(conn.status.value).toBe('connecting')
    fake.connect()
    expect(conn.status.value).toBe('online')
    expect(t.calls.connected).toBe(1)
    fake.fire('message', { id: 1 })
    expect(t.pushed).toEqual([{ id: 1 }]) // the caller's push handlers are on the socket
    const probe = vi.fn()
    vi.stubGlobal('fetch', probe)
    fake.connected = false
    fake.fire('disconnect', 'transport close')
    expect(conn.status.value).toBe('offline')
    expect(probe).not.toHaveBeenCalled() // a network drop is not a closed session
  })

  it("reconnects after 'io server disconnect' when the cookie session is still valid", async () => {
    const t = setup()
    conn = t.conn
    fake.connect()
    const probe = vi.fn(async () => ({ ok: true, status: 200, json: async () => ({ user: { id: 1 }, csrf_token: 'c' }) }))
    vi.stubGlobal('fetch', probe)
    fake.connected = false
    fake.fire('disconnect', 'io server disconnect')
    expect(conn.status.value).toBe('offline')
    await flushPromises()
    expect(probe).toHaveBeenCalledWith('/api/v1/auth/session', { credentials: 'same-origin' })
    expect(fake.connects).toBe(2)
    expect(conn.status.value).toBe('online')
    expect(t.calls.ended).toBe(0)
    expect(conn.sessionEnded.value).toBe(false)
  })

  it("ends the session after 'io server disconnect' when the probe says nobody is signed in", async () => {
    const t = setup()
    conn = t.conn
    fake.connect()
    // the hub answers the probe 200 with `user: null` when the session is gone
    vi.stubGlobal('fetch', vi.fn(async () => ({ ok: true, status: 200, json: async () => ({ user: null, csrf_token: null }) })))
    fake.connected = false
    fake.fire('disconnect', 'io server disconnect')
    await flushPromises()
    expect(t.calls.ended).toBe(1)
    expect(fake.connects).toBe(1)
  })

  it("ends the session after 'io server disconnect' when the probe answers 401, and only once", async () => {
    const t = setup()
    conn = t.conn
    fake.connect()
    vi.stubGlobal('fetch', vi.fn(async () => ({ ok: false, status: 401 })))
    fake.connected = false
    fake.fire('disconnect', 'io server disconnect')
    await flushPromises()
    fake.fire('disconnect', 'io server disconnect')
    await flushPromises()
    expect(t.calls.ended).toBe(1)
    expect(conn.sessionEnded.value).toBe(true)
    expect(fake.connects).toBe(1)
    // the network coming back does not revive an ended session
    window.dispatchEvent(new Event('online'))
    expect(fake.connects).toBe(1)
  })

  it('ends the session of a bearer token even if a cookie session answers ok', async () => {
    setBearer('tok-1')
    const t = setup()
    conn = t.conn
    fake.connect()
    vi.stubGlobal('fetch', vi.fn(async () => ({ ok: true, status: 200, json: async () => ({ user: { id: 1 }, csrf_token: 'c' }) })))
    fake.connected = false
    fake.fire('disconnect', 'io server disconnect')
    await flushPromises()
    expect(t.calls.ended).toBe(1)
  })

  it('tries again 2 s later when the probe itself cannot reach the hub', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const t = setup()
    conn = t.conn
    fake.connect()
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    fake.connected = false
    fake.fire('disconnect', 'io server disconnect')
    await vi.advanceTimersByTimeAsync(1900)
    expect(fake.connects).toBe(1)
    await vi.advanceTimersByTimeAsync(200)
    expect(fake.connects).toBe(2)
    expect(t.calls.ended).toBe(0)
  })

  it("goes offline on the window's offline event without waiting for the heartbeat, and back on online", () => {
    const t = setup()
    conn = t.conn
    fake.connect()
    window.dispatchEvent(new Event('offline'))
    expect(conn.status.value).toBe('offline')
    expect(fake.disconnects).toBe(1)
    expect(fake.connected).toBe(false)
    window.dispatchEvent(new Event('online'))
    expect(fake.connects).toBe(2)
    expect(conn.status.value).toBe('online')
  })

  it('ends the session on a refused handshake; other handshake failures retry in 2 s once the client gave up', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const t = setup()
    conn = t.conn
    fake.active = false
    fake.fire('connect_error', new Error('timeout'))
    expect(conn.status.value).toBe('offline')
    await vi.advanceTimersByTimeAsync(2000)
    expect(fake.connects).toBe(1)
    fake.connected = false
    fake.fire('connect_error', Object.assign(new Error('refused'), { data: { code: 'unauthorized' } }))
    expect(t.calls.ended).toBe(1)
    fake.fire('connect_error', new Error('timeout'))
    await vi.advanceTimersByTimeAsync(2000)
    expect(fake.connects).toBe(1) // an ended session is not reconnected
  })

  it('shows offline when the transport fails before any connect', () => {
    const t = setup()
    conn = t.conn
    fake.fireIo('error', new Error('websocket error'))
    expect(conn.status.value).toBe('offline')
    fake.connect()
    fake.fireIo('reconnect_attempt', 1) // while connected: a stray event changes nothing
    expect(conn.status.value).toBe('online')
  })

  it('tells the hub away or online as the tab hides and shows, and the caller when it shows', () => {
    const t = setup()
    conn = t.conn
    fake.connect()
    setHidden(true)
    document.dispatchEvent(new Event('visibilitychange'))
    setHidden(false)
    document.dispatchEvent(new Event('visibilitychange'))
    expect(fake.events('presence:set').map((e) => e.payload)).toEqual([{ status: 'away' }, { status: 'online' }])
    expect(t.calls.visible).toBe(1)
  })

  it('says away right after connecting in a hidden tab', async () => {
    const t = setup()
    conn = t.conn
    setHidden(true)
    fake.connect()
    await flushPromises()
    expect(fake.events('presence:set').map((e) => e.payload)).toEqual([{ status: 'away' }])
  })

  it('stop drops the socket and its listeners: a later offline event is not reported', () => {
    const t = setup()
    fake.connect()
    t.conn.stop()
    expect(t.conn.socket.value).toBeNull()
    expect(fake.handlers.size).toBe(0)
    expect(fake.disconnects).toBe(1)
    expect(t.conn.status.value).toBe('online') // listeners were off before the disconnect
    window.dispatchEvent(new Event('offline'))
    expect(t.conn.status.value).toBe('online')
  })
})

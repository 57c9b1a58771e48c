// The one socket's lifecycle: the status the banner shows, the browser's own offline,
// online and visibility events, and telling a closed session from a dropped network.
// Push handlers are the caller's: `open` hands it the new socket to register them on.
import { markRaw, ref, shallowRef } from 'vue'
import { getBearer } from '@/http/request'
import { connect, type Socket } from '@/realtime/socket'
import { currentLocale } from '@/i18n'

export type ConnStatus = 'connecting' | 'online' | 'offline'

export interface ConnectionDeps {
  /** connected, the first time or again: catch up */
  onConnect: () => Promise<void>
  /** the session is over (logged out elsewhere, password changed, token refused) */
  onEnded: () => void
  /** the tab became visible again */
  onVisible: () => void
}

export function createConnection(deps: ConnectionDeps) {
  const socket = shallowRef<Socket | null>(null)
  const status = ref<ConnStatus>('connecting')
  const sessionEnded = ref(false)

  function open(register: (s: Socket) => void) {
    const s = connect({ token: getBearer(), locale: currentLocale() })
    socket.value = markRaw(s)
    status.value = 'connecting'
    s.on('connect', async () => {
      status.value = 'online'
      await deps.onConnect()
      if (document.hidden) socket.value?.emit('presence:set', { status: 'away' })
    })
    s.on('disconnect', (reason) => {
      status.value = 'offline'
      if (reason === 'io server disconnect') void serverClosed()
    })
    s.on('connect_error', (err: Error & { data?: { code?: string } }) => {
      status.value = 'offline'
      if (err.data?.code === 'unauthorized') endSession()
      else if (!s.active) setTimeout(() => !sessionEnded.value && s.connect(), 2000)
    })
    // the transport failing before a connect (hub unreachable) also counts as offline
    s.io.on('error', () => {
      if (!s.connected) status.value = 'offline'
    })
    s.io.on('reconnect_attempt', () => {
      if (!s.connected) status.value = 'offline'
    })
    register(s)
    window.addEventListener('offline', goOffline)
    window.addEventListener('online', goOnline)
    document.addEventListener('visibilitychange', onVisibility)
  }

  function goOffline() {
    // the browser knows the network is gone: do not wait for the heartbeat to notice
    status.value = 'offline'
    socket.value?.disconnect()
  }
  function goOnline() {
    if (!sessionEnded.value && socket.value && !socket.value.connected) socket.value.connect()
  }
  function onVisibility() {
    if (!document.hidden) deps.onVisible()
    const s = socket.value
    if (s?.connected) s.emit('presence:set', { status: document.hidden ? 'away' : 'online' })
  }

  async function serverClosed() {
    // logout elsewhere, a password change or an administrator: is the session still good?
    try {
      const r = await fetch('/api/v1/auth/session', { credentials: 'same-origin' })
      // 200 with `user: null` when the session is gone (the probe is no error)
      const alive = r.ok && !!(await r.json().catch(() => null))?.user
      if (alive && !getBearer()) {
        socket.value?.connect()
        return
      }
    } catch {
      setTimeout(() => socket.value?.connect(), 2000)
      return
    }
    endSession()
  }

  function endSession() {
    if (sessionEnded.value) return
    sessionEnded.value = true
    deps.onEnded()
  }

  /** listeners off first, so the disconnect below is not reported as going offline */
  function stop() {
    window.removeEventListener('offline', goOffline)
    window.removeEventListener('online', goOnline)
    document.removeEventListener('visibilitychange', onVisibility)
    socket.value?.removeAllListeners()
    socket.value?.disconnect()
    socket.value = null
  }

  return { socket, status, sessionEnded, open, stop, endSession, goOffline, goOnline, serverClosed }
}

export type Connection = ReturnType<typeof createConnection>

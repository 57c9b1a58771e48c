// The one Socket.IO connection (the official socket.io-client), with typed acks.
import { io, type Socket } from 'socket.io-client'
import type { Ack } from '@/apis/types'
import { ApiError } from '@/http/request'

export type { Socket }

export function connect(opts: { token?: string | null; locale: string }): Socket {
  const auth: Record<string, string> = { locale: opts.locale }
  if (opts.token) auth.token = opts.token
  return io({
    path: '/socket.io',
    transports: ['websocket'],
    withCredentials: true,
    auth,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    // a handshake that has not finished by then failed: show offline and try again
    timeout: 8000,
  })
}

/** Emit an event and wait for its ack; a refusal or a timeout throws ApiError. */
export async function call<T>(socket: Socket, event: string, payload: object = {}, timeoutMs = 10_000): Promise<T> {
  if (!socket.connected) throw new ApiError('unavailable', 'not connected')
  let ack: Ack<T>
  try {
    ack = await socket.timeout(timeoutMs).emitWithAck(event, payload)
  } catch {
    throw new ApiError('unavailable', 'timeout')
  }
  if (!ack || typeof ack !== 'object') throw new ApiError('unavailable', 'bad ack')
  if (!ack.ok) throw new ApiError(ack.error.code, ack.error.message)
  return ack as T
}

export const RETRYABLE = new Set(['unavailable', 'rate_limited'])

/** Refusals that the same payload would meet again: the entry waits for the user to edit or delete it. */
export const PERMANENT = new Set(['too_large', 'bad_request'])

/** The hub's default `max_payload_bytes`: a larger event is refused, so the client does not send it. */
export const MAX_EVENT_BYTES = 256 * 1024

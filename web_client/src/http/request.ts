// One way to call the REST API. The session lives in the HttpOnly `ct_session` cookie;
// every non-GET request carries the CSRF token. Older hubs without cookie sessions get a
// bearer token, kept in sessionStorage (never localStorage).
import type { ErrorBody } from '@/apis/types'

export class ApiError extends Error {
  constructor(public code: string, message: string, public status = 0, public fields: Record<string, string> = {}) {
    super(message)
  }
}

let csrf: string | null = null
let bearer: string | null = sessionStorage.getItem('ct_bearer')
let onUnauthorized: () => void = () => {}
let locale = 'zh-CN'

export function setCsrf(token: string | null) {
  csrf = token
}
export function setBearer(token: string | null) {
  bearer = token
  if (token) sessionStorage.setItem('ct_bearer', token)
  else sessionStorage.removeItem('ct_bearer')
}
export function getBearer(): string | null {
  return bearer
}
export function setOnUnauthorized(fn: () => void) {
  onUnauthorized = fn
}
export function setLocale(l: string) {
  locale = l
}

function cookie(name: string): string | null {
  const m = document.cookie.split('; ').find((c) => c.startsWith(name + '='))
  return m ? decodeURIComponent(m.slice(name.length + 1)) : null
}

export function authHeaders(method = 'GET'): Record<string, string> {
  const h: Record<string, string> = { 'Accept-Language': locale }
  if (bearer) h.Authorization = `Bearer ${bearer}`
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrf ?? cookie('ct_csrf')
    if (t) h['X-CSRF-Token'] = t
  }
  return h
}

export function toApiError(status: number, body: unknown, fallback: string): ApiError {
  const err = (body as { error?: ErrorBody } | null)?.error
  if (err?.code) {
    // a form's refusal names each field's problem
    const fields = Object.fromEntries((err.errors ?? []).filter((e) => e.field).map((e) => [e.field as string, e.message]))
    return new ApiError(err.code, err.message, status, fields)
  }
  return new ApiError(status >= 500 || status === 0 ? 'unavailable' : 'bad_request', fallback, status)
}

export interface RequestOptions {
  /** do not call onUnauthorized on 401 (login, session probe) */
  quiet401?: boolean
  signal?: AbortSignal
}

export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers = authHeaders(method)
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: opts.signal,
    })
  } catch (e) {
    throw new ApiError('unavailable', (e as Error).message || 'network error', 0)
  }
  let data: unknown = null
  const text = await res.text()
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = null
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) onUnauthorized()
    throw toApiError(res.status, data, res.statusText)
  }
  return data as T
}

export interface Upload<T> {
  promise: Promise<T>
  cancel: () => void
}

/** Upload a raw body with progress (0..1) and cancel; fetch has no upload progress. */
export function upload<T>(path: string, file: Blob, onProgress: (p: number) => void): Upload<T> {
  const xhr = new XMLHttpRequest()
  const promise = new Promise<T>((resolve, reject) => {
    xhr.open('POST', path)
    for (const [k, v] of Object.entries(authHeaders('POST'))) xhr.setRequestHeader(k, v)
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream')
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total)
    xhr.onload = () => {
      let data: unknown = null
      try {
        data = JSON.parse(xhr.responseText)
      } catch {
        data = null
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data as T)
      else {
        if (xhr.status === 401) onUnauthorized()
        reject(toApiError(xhr.status, data, xhr.statusText))
      }
    }
    xhr.onerror = () => reject(new ApiError('unavailable', 'network error', 0))
    xhr.onabort = () => reject(new ApiError('cancelled', 'cancelled', 0))
    xhr.send(file)
  })
  return { promise, cancel: () => xhr.abort() }
}

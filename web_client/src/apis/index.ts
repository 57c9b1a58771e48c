// Typed REST calls (docs/protocol.md, "REST API").
import { request, upload } from '@/http/request'
import type { FileInfo, UnitNode, User, UserRef } from './types'

export interface LoginAnswer { user: User; csrf_token?: string; token?: string }

export const api = {
  login: (username: string, password: string, cookie = true) =>
    request<LoginAnswer>('POST', '/api/v1/auth/login', cookie ? { username, password, session: 'cookie' } : { username, password }, { quiet401: true }),
  session: () => request<{ user: User | null; csrf_token: string | null }>('GET', '/api/v1/auth/session'),
  me: () => request<{ user: User }>('GET', '/api/v1/me', undefined, { quiet401: true }),
  logout: () => request<{ ok: true }>('POST', '/api/v1/auth/logout', undefined, { quiet401: true }),
  updateMe: (body: Partial<Pick<User, 'display_name' | 'title' | 'phone' | 'email'>>) => request<{ user: User }>('PATCH', '/api/v1/me', body),
  changePassword: (old_password: string, new_password: string) =>
    request<{ token?: string; csrf_token?: string; ok?: boolean }>('POST', '/api/v1/me/password', { old_password, new_password }, { quiet401: true }),
  units: () => request<{ units: UnitNode[] }>('GET', '/api/v1/directory/units'),
  users: (params: { q?: string; unit_id?: number; limit?: number; offset?: number }) => {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v))
    return request<{ users: User[]; total: number }>('GET', `/api/v1/directory/users?${qs}`)
  },
  user: (id: number) => request<{ user: User }>('GET', `/api/v1/directory/users/${id}`),
  contacts: () => request<{ contacts: { user: User; note: string }[] }>('GET', '/api/v1/contacts'),
  addContact: (user_id: number, note = '') => request<{ ok: true }>('POST', '/api/v1/contacts', { user_id, note }),
  removeContact: (user_id: number) => request<{ ok: true }>('DELETE', `/api/v1/contacts/${user_id}`),
  uploadFile: (file: File, onProgress: (p: number) => void) =>
    upload<FileInfo>(`/api/v1/files?name=${encodeURIComponent(file.name || 'file')}`, file, onProgress),
}

export type FormFieldKind = 'text' | 'textarea' | 'number' | 'money' | 'date' | 'datetime' | 'select' | 'multiselect' | 'person' | 'unit'
export interface FormField {
  name: string
  kind: FormFieldKind
  label: string
  required: boolean
  help?: string
  default?: string | number | string[]
  min?: number
  max?: number
  max_length?: number
  options?: string[]
}
export interface FlowInfo { key: string; version: number; name: string; form: FormField[] }
export interface TaskRow { instance_id: number; task_id?: number; node?: string; title: string; flow?: string; flow_key?: string; status: string; instance_status?: string; post_name?: string }

export interface FlowStep { id: string; name: string; type: string; state: 'done' | 'current' | 'pending' }
export interface FlowTrailStep { at: string; user_id: number; user_name: string; proxy_for_name?: string; post_name?: string; node: string; node_name: string; operation: string; opinion: string; target: string }
export interface FlowInstance {
  id: number
  flow: string
  flow_name: string
  title: string
  status: string
  initiator_id: number
  initiator_name: string
  form: Record<string, unknown>
  fields?: FormField[]
  /** the form as people read it: [label, value], declared fields first */
  shown?: [string, string][]
  can_take_back?: boolean
  open_tasks: { id: number; node: string; node_name: string; user_id: number; user_name: string; kind: string }[]
  steps: FlowStep[]
  trail: FlowTrailStep[]
}
export type TaskBox = 'todo' | 'done' | 'started' | 'cc'
export interface FlowProxy { id: number; user_id: number; user_name: string; proxy_id: number; proxy_name: string; starts_at: string; ends_at: string; active: boolean }

export const flowsApi = {
  flows: () => request<{ flows: FlowInfo[]; assistant: UserRef }>('GET', '/api/v1/flows'),
  tasks: (box: TaskBox) => request<{ tasks: TaskRow[] }>('GET', `/api/v1/tasks?box=${box}`),
  instance: (id: number) => request<{ instance: FlowInstance }>('GET', `/api/v1/flows/instances/${id}`),
  proxies: () => request<{ proxies: FlowProxy[] }>('GET', '/api/v1/flows/proxies'),
  addProxy: (proxy: string, starts_at: string, ends_at: string) =>
    request<{ proxy: FlowProxy }>('POST', '/api/v1/flows/proxies', { proxy, starts_at, ends_at }),
  removeProxy: (id: number) => request<{ ok: true }>('DELETE', `/api/v1/flows/proxies/${id}`),
  operate: (id: number, op: { kind: string; task_id?: number; opinion?: string }) =>
    request<{ instance: FlowInstance }>('POST', `/api/v1/flows/instances/${id}/operations`, op),
  start: (key: string, title: string, form: Record<string, unknown>) =>
    request<{ instance: { id: number } }>('POST', `/api/v1/flows/${encodeURIComponent(key)}/instances`, { title, form }),
}

export const fileUrl = (id: string, inline = false) => `/api/v1/files/${encodeURIComponent(id)}${inline ? '?inline=1' : ''}`
export const thumbUrl = (id: string) => `/api/v1/files/${encodeURIComponent(id)}/thumbnail`

// The wire objects of docs/protocol.md ("Objects"), as the client reads them.
export interface UserRef { id: number; username: string; display_name: string; is_bot?: boolean }

export interface Post { unit_id: number; unit_code: string; unit_name: string; title: string; is_primary: boolean }

export interface User extends UserRef {
  title: string
  phone: string
  email: string
  roles: string[]
  is_bot: boolean
  disabled: boolean
  posts: Post[]
}

export interface UnitNode {
  id: number
  code: string
  name: string
  parent_id: number | null
  disabled: boolean
  member_count: number
  children: UnitNode[]
}

export interface FileInfo { file_id: string; name: string; size: number; mime: string; thumbnail: boolean }

export type Tone = 'info' | 'success' | 'warning' | 'danger'

export interface CardAction {
  id: string
  label: string
  style?: 'primary' | 'danger' | 'default'
  comment?: 'none' | 'optional' | 'required'
  confirm?: string
  /** one must be picked to press it (派车: the cars free then) */
  choices?: string[]
  choice_label?: string
  /** 常用意见: opinions offered beside the comment box */
  phrases?: string[]
}

export interface Card {
  title: string
  status?: { text: string; tone?: Tone } | null
  fields?: { label: string; value: string }[] | null
  body?: string | null
  links?: { text: string; url: string }[] | null
  actions?: CardAction[] | null
  footer?: string | null
}

export interface Message {
  id: number
  channel_id: number
  seq: number
  change_seq: number
  sender: UserRef
  kind: 'text' | 'file' | 'card' | 'system' | string
  text: string
  file: FileInfo | null
  card: Card | null
  mentions: number[]
  client_msg_id: string
  thread_root_id: number | null
  created_at: string
  edited_at: string | null
  recalled: boolean
}

export type ChannelKind = 'public' | 'private' | 'direct' | 'unit'

export interface Channel {
  id: number
  kind: ChannelKind
  name: string
  topic: string
  unit_id: number | null
  read_only: boolean
  head_seq: number
  role: 'member' | 'admin'
  last_read_seq: number
  unread: number
  mentions: number
  member_count: number
  peers: UserRef[]
}

export interface PublicChannel { id: number; kind: 'public'; name: string; topic: string; member_count: number }

export interface Member extends UserRef { role: 'member' | 'admin'; last_read_seq: number }

export type PresenceStatus = 'online' | 'away' | 'offline'

export interface PresenceUnit {
  unit: { id: number; code: string; name: string }
  users: (UserRef & { status: PresenceStatus })[]
}

export interface ErrorBody { code: string; message: string; errors?: { field?: string; message: string }[] }

export type Ack<T> = ({ ok: true } & T) | { ok: false; error: ErrorBody }

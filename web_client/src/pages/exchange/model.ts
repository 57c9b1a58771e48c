// The 发文 form: the document model (apis/exchange.ts) as editable strings and lists, and
// back. Pure functions, so the rules are tested without a browser (tests/exchange.test.ts).
import type { Attachment, ExDocument, OutDocument } from '@/apis/exchange'

/** The field names, in the order of GB/T 9704 (head, body, footer), as the hub lists them. */
export const FIELDS = [
  'kind', 'direction', 'copy_no', 'secrecy', 'urgency', 'issuer', 'number', 'signer', 'title', 'to', 'body',
  'attachments', 'signed_by', 'date', 'note', 'cc', 'printed_by', 'printed_date',
] as const
export type FieldName = (typeof FIELDS)[number]

// 党政机关公文处理工作条例 (2012), then the accepted older types (exchange_bridge/model.py).
export const KINDS = [
  '决议', '决定', '命令', '公报', '公告', '通告', '意见', '通知', '通报', '报告', '请示', '批复', '议案', '函', '纪要',
  '会议纪要', '指示', '条例', '规定',
]
export const DIRECTIONS = ['上行文', '下行文', '平行文']
export const URGENCIES = ['特急', '加急', '特提', '平急']
export const SECRECY_LEVELS = ['绝密', '机密', '秘密']

/** What the clerk edits: every field as text or a list of names. */
export interface DocForm {
  kind: string
  direction: string
  copy_no: string
  secrecy_level: string
  secrecy_term: string
  urgency: string
  issuer: string
  number: string
  signer: string[]
  title: string
  to: string[]
  attachments: string[]
  signed_by: string[]
  date: string
  note: string
  cc: string[]
  printed_by: string
  printed_date: string
}

export function toForm(doc: ExDocument): DocForm {
  const secrecy = doc.secrecy ?? ''
  const [level, term] = secrecy.includes('★') ? secrecy.split('★', 2) : [secrecy, '']
  return {
    kind: doc.kind ?? '',
    direction: doc.direction ?? '',
    copy_no: doc.copy_no ?? '',
    secrecy_level: level,
    secrecy_term: term,
    urgency: doc.urgency ?? '',
    issuer: doc.issuer ?? '',
    number: doc.number?.text ?? '',
    signer: [...doc.signer],
    title: doc.title ?? '',
    to: [...doc.to],
    attachments: doc.attachments.map((a) => a.name),
    signed_by: [...doc.signed_by],
    date: doc.date?.text ?? '',
    note: doc.note ?? '',
    cc: [...doc.cc],
    printed_by: doc.printed_by ?? '',
    printed_date: doc.printed_date?.text ?? '',
  }
}

const clean = (s: string) => s.trim()
const names = (list: string[]) => list.map(clean).filter(Boolean)
const orNull = (s: string) => clean(s) || null

/** Whether the form holds a value for a field (the body is never edited here). */
export function filled(form: DocForm, field: string, doc?: ExDocument): boolean {
  switch (field) {
    case 'secrecy':
      return !!clean(form.secrecy_level)
    case 'body':
      return !!doc && doc.body.length > 0
    default: {
      const v = (form as unknown as Record<string, unknown>)[field]
      return Array.isArray(v) ? names(v as string[]).length > 0 : typeof v === 'string' && !!clean(v)
    }
  }
}

/** The document to send: the form's values over the imported document (its body and
 *  attachment file references kept); `missing` keeps only what is still empty. */
export function toDocument(form: DocForm, doc: ExDocument): OutDocument {
  const files = new Map<string, string | null>(doc.attachments.map((a) => [a.name, a.file]))
  const attachments: Attachment[] = names(form.attachments).map((name) => ({ name, file: files.get(name) ?? null }))
  const level = clean(form.secrecy_level)
  const term = clean(form.secrecy_term)
  const out: OutDocument = {
    kind: orNull(form.kind),
    direction: orNull(form.direction),
    copy_no: orNull(form.copy_no),
    secrecy: level ? (term ? `${level}★${term}` : level) : null,
    urgency: orNull(form.urgency),
    issuer: orNull(form.issuer),
    number: orNull(form.number),
    signer: names(form.signer),
    title: orNull(form.title),
    to: names(form.to),
    body: doc.body,
    attachments,
    signed_by: names(form.signed_by),
    date: orNull(form.date),
    note: orNull(form.note),
    cc: names(form.cc),
    printed_by: orNull(form.printed_by),
    printed_date: orNull(form.printed_date),
    missing: [],
  }
  out.missing = doc.missing.filter((f) => !filled(form, f, doc))
  return out
}

// The printed forms the hub accepts (exchange_bridge/model.py): 东政办发〔2026〕15号 with
// [] 【】 （） () ［］ and 第 tolerated, an order's 第12号; 2026年11月20日 or 二〇二六年十一月二十日.
const NUMBER = /^[^\s〔[【（(［]{1,20}?[〔[【（(［]\d{4}[〕\]】）)］]第?\d{1,6}号$/
const ORDER_NUMBER = /^第\d{1,6}号$/
const DATE = /^[0-9０-９〇○零Ｏ一二三四五六七八九]{4}年[0-9０-９一二三四五六七八九十]{1,3}月[0-9０-９一二三四五六七八九十]{1,3}日$/
const squeeze = (s: string) => s.replace(/[\s\u3000\u00a0]+/g, '')

export type Problem = 'required' | 'number' | 'date' | 'copy_no' | 'secrecy_term' | 'too_long'

/** What is wrong with the form, per field (an empty map when it can be sent). The hub
 *  checks again; this only says it early, next to the field. */
export function problems(form: DocForm): Partial<Record<FieldName, Problem>> {
  const p: Partial<Record<FieldName, Problem>> = {}
  if (!clean(form.title)) p.title = 'required'
  else if (clean(form.title).length > 500) p.title = 'too_long'
  const number = squeeze(form.number)
  if (number && !NUMBER.test(number) && !ORDER_NUMBER.test(number)) p.number = 'number'
  for (const f of ['date', 'printed_date'] as const) if (squeeze(form[f]) && !DATE.test(squeeze(form[f]))) p[f] = 'date'
  if (clean(form.copy_no) && !/^[0-9]{1,8}$/.test(clean(form.copy_no))) p.copy_no = 'copy_no'
  if (clean(form.secrecy_term) && !clean(form.secrecy_level)) p.secrecy = 'secrecy_term'
  return p
}

/** Units matching a search: by name or code, ignoring spaces and case. */
export function matchUnits<T extends { code: string; name: string }>(units: T[], q: string): T[] {
  const needle = squeeze(q).toLowerCase()
  if (!needle) return units
  return units.filter((u) => squeeze(u.name).toLowerCase().includes(needle) || u.code.toLowerCase().includes(needle))
}

/** Whether a user may use the desk (roles clerk or admin). */
export const isClerk = (roles: readonly string[] | undefined) => !!roles && (roles.includes('clerk') || roles.includes('admin'))

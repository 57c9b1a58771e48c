// The 收发 desk's REST edge (docs/protocol.md, "Document exchange desk"): read a Word file
// into the document model, list the units this node reaches, send.
import { request, upload, type Upload } from '@/http/request'
import type { Message } from './types'

/** 发文字号 as printed and in parts (docs/exchange-format.md). */
export interface DocNumber { text: string; agency: string; year: number | null; serial: number }
/** A date as printed plus the ISO day. */
export interface DocDate { text: string; iso: string }
export type Block =
  | { type: 'paragraph'; text: string; level: number }
  | { type: 'table'; rows: string[][] }
export interface Attachment { name: string; file: string | null }

/** The document model's JSON form: every field present, absent ones null or []. */
export interface ExDocument {
  kind: string | null
  direction: string | null
  copy_no: string | null
  secrecy: string | null
  urgency: string | null
  issuer: string | null
  number: DocNumber | null
  signer: string[]
  title: string | null
  to: string[]
  body: Block[]
  attachments: Attachment[]
  signed_by: string[]
  date: DocDate | null
  note: string | null
  cc: string[]
  printed_by: string | null
  printed_date: DocDate | null
  missing: string[]
}

/** What `send` accepts: the model, with the printed shortcuts (number and dates as text). */
export type OutDocument = Omit<ExDocument, 'number' | 'date' | 'printed_date'> & {
  number: string | null
  date: string | null
  printed_date: string | null
}

/** `missing`: what the file did not yield; `lacking`: those of them the document's kind and
 *  direction require (GB/T 9704), the only ones to show as faults. */
export interface ImportAnswer { document: ExDocument; missing: string[]; lacking: string[]; labels: Record<string, string> }
export interface ExchangeUnit { code: string; name: string; via: string | null }
export interface SendAnswer { package_id: string; message: Message }

export const MAX_DOCX_BYTES = 20 * 1024 * 1024
const DOCX_MIME = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'

export const exchangeApi = {
  /** Upload a .docx with progress (0..1); the hub answers the fields it found and those it did not. */
  importDocx: (file: Blob, onProgress: (p: number) => void): Upload<ImportAnswer> =>
    upload<ImportAnswer>('/api/v1/exchange/import', file.type ? file : new Blob([file], { type: DOCX_MIME }), onProgress),
  units: () => request<{ units: ExchangeUnit[] }>('GET', '/api/v1/exchange/units'),
  send: (document: OutDocument, recipients: string[]) =>
    request<SendAnswer>('POST', '/api/v1/exchange/send', { document, recipients }),
}

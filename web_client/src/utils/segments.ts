// Splits a message text into plain text, @mentions and links. The view renders every
// segment as text (a link's text and href included): never HTML.
export type Segment =
  | { type: 'text'; text: string }
  | { type: 'mention'; text: string; username: string }
  | { type: 'link'; text: string; href: string }

const TOKEN = /(https?:\/\/[^\s<>"'，。！？、；）)]+)|@([A-Za-z0-9._-]{2,64})/g

export function safeHref(url: string): string | null {
  try {
    const u = new URL(url, window.location.href)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
  } catch {
    return null
  }
}

export function segments(text: string): Segment[] {
  const out: Segment[] = []
  let last = 0
  for (const m of text.matchAll(TOKEN)) {
    const at = m.index ?? 0
    if (at > last) out.push({ type: 'text', text: text.slice(last, at) })
    if (m[1]) {
      const href = safeHref(m[1])
      out.push(href ? { type: 'link', text: m[1], href } : { type: 'text', text: m[1] })
    } else {
      out.push({ type: 'mention', text: m[0], username: m[2].toLowerCase() })
    }
    last = at + m[0].length
  }
  if (last < text.length) out.push({ type: 'text', text: text.slice(last) })
  return out
}

/** The `@partial` being typed just before the caret, or null. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret)
  const m = /(^|\s)@([^\s@]{0,32})$/.exec(before)
  if (!m) return null
  return { start: caret - m[2].length - 1, query: m[2] }
}

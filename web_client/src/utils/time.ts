// Dates the Chinese way: 14:05 within today, 昨天, 11月20日, 2025年11月20日.
export type Lang = 'zh-CN' | 'en'

function startOfDay(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime()
}

const pad = (n: number) => String(n).padStart(2, '0')

export function clock(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** Days between the calendar days of `d` and `now` (0 today, 1 yesterday). */
export function dayDiff(d: Date, now: Date): number {
  return Math.round((startOfDay(now) - startOfDay(d)) / 86_400_000)
}

const EN_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const ZH_WEEK = ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六']

/** The date alone: 今天, 昨天, 11月20日, 2025年11月20日. */
export function dayLabel(iso: string | Date, now = new Date(), lang: Lang = 'zh-CN'): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso
  const diff = dayDiff(d, now)
  if (lang === 'en') {
    if (diff === 0) return 'Today'
    if (diff === 1) return 'Yesterday'
    const md = `${EN_MONTHS[d.getMonth()]} ${d.getDate()}`
    return d.getFullYear() === now.getFullYear() ? md : `${md}, ${d.getFullYear()}`
  }
  if (diff === 0) return '今天'
  if (diff === 1) return '昨天'
  const md = `${d.getMonth() + 1}月${d.getDate()}日`
  return d.getFullYear() === now.getFullYear() ? md : `${d.getFullYear()}年${md}`
}

/** A day separator in the message list: 今天, 昨天, 11月20日 星期五. */
export function separatorLabel(iso: string, now = new Date(), lang: Lang = 'zh-CN'): string {
  const d = new Date(iso)
  const base = dayLabel(d, now, lang)
  if (dayDiff(d, now) <= 1) return base
  return lang === 'en' ? base : `${base} ${ZH_WEEK[d.getDay()]}`
}

/** A short stamp for lists: 14:05 today, 昨天 14:05, 11月20日. */
export function shortStamp(iso: string, now = new Date(), lang: Lang = 'zh-CN'): string {
  const d = new Date(iso)
  const diff = dayDiff(d, now)
  if (diff === 0) return clock(d)
  if (diff === 1) return `${dayLabel(d, now, lang)} ${clock(d)}`
  return dayLabel(d, now, lang)
}

/** Full stamp for tooltips: 今天 14:05, 昨天 09:12, 11月20日 14:05. */
export function fullStamp(iso: string, now = new Date(), lang: Lang = 'zh-CN'): string {
  const d = new Date(iso)
  return `${dayLabel(d, now, lang)} ${clock(d)}`
}

export function sameDay(a: string, b: string): boolean {
  return startOfDay(new Date(a)) === startOfDay(new Date(b))
}

export function fileSize(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`
}

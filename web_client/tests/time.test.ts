import { describe, expect, it } from 'vitest'
import { dayLabel, separatorLabel, shortStamp, fullStamp, fileSize } from '@/utils/time'

const now = new Date(2026, 10, 24, 15, 0) // 2026-11-24 15:00 local

describe('Chinese dates', () => {
  it('says 今天, 昨天, 11月20日 and the year when it differs', () => {
    expect(dayLabel(new Date(2026, 10, 24, 9, 5), now)).toBe('今天')
    expect(dayLabel(new Date(2026, 10, 23, 23, 59), now)).toBe('昨天')
    expect(dayLabel(new Date(2026, 10, 20, 8, 0), now)).toBe('11月20日')
    expect(dayLabel(new Date(2025, 0, 3, 8, 0), now)).toBe('2025年1月3日')
  })
  it('formats stamps and separators', () => {
    expect(fullStamp(new Date(2026, 10, 24, 14, 5).toISOString(), now)).toBe('今天 14:05')
    expect(shortStamp(new Date(2026, 10, 24, 14, 5).toISOString(), now)).toBe('14:05')
    expect(shortStamp(new Date(2026, 10, 23, 9, 1).toISOString(), now)).toBe('昨天 09:01')
    expect(separatorLabel(new Date(2026, 10, 20, 8, 0).toISOString(), now)).toBe('11月20日 星期五')
  })
  it('has English too', () => {
    expect(dayLabel(new Date(2026, 10, 20), now, 'en')).toBe('Nov 20')
    expect(dayLabel(new Date(2026, 10, 23), now, 'en')).toBe('Yesterday')
  })
  it('sizes files', () => {
    expect(fileSize(512)).toBe('512 B')
    expect(fileSize(52311)).toBe('51.1 KB')
  })
})

import { i18n } from '@/i18n'
import zh from '@/i18n/zh-CN'
import en from '@/i18n/en'

describe('translations', () => {
  it('compile, and both languages have the same keys', () => {
    const keys = (o: object, p = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? keys(v, p + k + '.') : [p + k]))
    expect(keys(en)).toEqual(keys(zh))
    for (const loc of ['zh-CN', 'en'] as const) {
      i18n.global.locale.value = loc
      for (const k of keys(zh)) expect(() => i18n.global.t(k, { n: 1, name: 'x', channel: 'y', read: 1, unread: 1, names: 'a', msg: 'm', title: 't', online: 1, total: 2 })).not.toThrow()
    }
    i18n.global.locale.value = 'zh-CN'
    expect(i18n.global.t('rail.mentioned')).toBe('有人@我')
  })
})

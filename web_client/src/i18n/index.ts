import { createI18n } from 'vue-i18n'
import zhCN from './zh-CN'
import en from './en'

export type Locale = 'zh-CN' | 'en'

function initial(): Locale {
  const saved = localStorage.getItem('ct_locale')
  return saved === 'en' ? 'en' : 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initial(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
})

export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale
}

export function setLocale(l: Locale) {
  i18n.global.locale.value = l
  localStorage.setItem('ct_locale', l)
  document.documentElement.lang = l
}

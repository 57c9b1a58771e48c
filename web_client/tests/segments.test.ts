import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { mentionQuery, segments } from '@/utils/segments'
import RichText from '@/components/RichText.vue'
import CardView from '@/components/CardView.vue'
import { createPinia, setActivePinia } from 'pinia'
import { i18n } from '@/i18n'

const EVIL = '<img src=x onerror=alert(1)>'

describe('segments', () => {
  it('finds mentions and links', () => {
    expect(segments('请 @lisi 看 https://gov.cn/a 谢谢')).toEqual([
      { type: 'text', text: '请 ' },
      { type: 'mention', text: '@lisi', username: 'lisi' },
      { type: 'text', text: ' 看 ' },
      { type: 'link', text: 'https://gov.cn/a', href: 'https://gov.cn/a' },
      { type: 'text', text: ' 谢谢' },
    ])
  })
  it('knows the @partial before the caret', () => {
    expect(mentionQuery('你好 @wa', 6)).toEqual({ start: 3, query: 'wa' })
    expect(mentionQuery('mail a@b', 8)).toBeNull()
  })
})

describe('rendering user text', () => {
  it('never turns a message into HTML', () => {
    const w = mount(RichText, { props: { text: `hi ${EVIL} https://x.cn` } })
    expect(w.find('img').exists()).toBe(false)
    expect(w.text()).toContain(EVIL)
    const a = w.find('a')
    expect(a.attributes('rel')).toBe('noopener noreferrer')
  })
  it('renders every part of a card as text and drops javascript: links', () => {
    setActivePinia(createPinia())
    const w = mount(CardView, {
      global: { plugins: [i18n], stubs: { 'el-button': { template: '<button><slot /></button>' }, 'el-input': true } },
      props: {
        messageId: 1,
        card: {
          title: EVIL,
          status: { text: EVIL, tone: 'warning' },
          fields: [{ label: EVIL, value: EVIL }],
          body: EVIL,
          links: [{ text: 'bad', url: 'javascript:alert(1)' }, { text: 'ok', url: 'https://gov.cn' }],
          actions: [{ id: 'ack', label: '已阅', style: 'primary' }],
          footer: EVIL,
        },
      },
    })
    expect(w.find('img').exists()).toBe(false)
    expect(w.html()).not.toContain('javascript:')
    expect(w.findAll('a')).toHaveLength(1)
    expect(w.find('a').attributes('rel')).toBe('noopener noreferrer')
    expect(w.text()).toContain('已阅')
  })
})

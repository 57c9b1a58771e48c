// The 发文 form as the clerk sees it: missing fields outlined and named, filled ones marked,
// problems shown next to their field, hostile text shown as text.
import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { nextTick, reactive } from 'vue'
import { i18n } from '@/i18n'
import type { ExDocument } from '@/apis/exchange'
import DocFieldsForm from '@/pages/exchange/DocFieldsForm.vue'
import { problems, toForm } from '@/pages/exchange/model'

const LABELS: Record<string, string> = {
  kind: '文种', direction: '行文方向', copy_no: '份号', secrecy: '密级和保密期限', urgency: '紧急程度', issuer: '发文机关标志',
  number: '发文字号', signer: '签发人', title: '标题', to: '主送机关', body: '正文', attachments: '附件说明', signed_by: '发文机关署名',
  date: '成文日期', note: '附注', cc: '抄送机关', printed_by: '印发机关', printed_date: '印发日期',
}
const EVIL = '<img src=x onerror=alert(1)>'

function doc(): ExDocument {
  return {
    kind: '通知', direction: null, copy_no: null, secrecy: null, urgency: null, issuer: null, number: null, signer: [],
    title: '关于做好冬季安全生产工作的通知', to: ['各县区人民政府'],
    body: [{ type: 'paragraph', text: '一、总体要求', level: 1 }, { type: 'paragraph', text: EVIL, level: 0 }, { type: 'table', rows: [['物资', '缺口']] }],
    attachments: [], signed_by: [], date: null, note: null, cc: [], printed_by: null, printed_date: null,
    missing: ['number', 'printed_by'],
  }
}

function render(showProblems = false) {
  i18n.global.locale.value = 'zh-CN'
  const d = doc()
  const form = reactive(toForm(d)) // the page holds it in a ref: the form edits it in place
  const w = mount(DocFieldsForm, {
    props: { modelValue: form, doc: d, labels: LABELS, missing: d.missing, problems: problems(form), showProblems },
    global: { plugins: [i18n] },
  })
  return { w, form }
}

// the first mount loads Element Plus's components: slow on a busy machine
describe('the 发文 fields form', { timeout: 30_000 }, () => {
  it('outlines and names each missing field, and only those', () => {
    const { w } = render()
    const missing = w.findAll('.item.missing').map((i) => i.attributes('data-field'))
    expect(missing).toEqual(['number', 'printed_by'])
    expect(w.get('[data-field="number"]').text()).toContain('缺少：发文字号')
    expect(w.get('[data-field="printed_by"]').text()).toContain('原文未识别到此项，可在此补填')
    expect(w.get('[data-field="title"]').classes()).not.toContain('missing')
    // every field has its label from the hub
    for (const label of Object.values(LABELS)) expect(w.text()).toContain(label)
  })

  it('tags the optional fields the file leaves out 未标注 in grey, never as missing', () => {
    i18n.global.locale.value = 'zh-CN'
    const d = doc()
    const w = mount(DocFieldsForm, {
      props: { modelValue: reactive(toForm(d)), doc: d, labels: LABELS, missing: ['number'], unmarked: ['copy_no', 'cc', 'number'], problems: {}, showProblems: false },
      global: { plugins: [i18n] },
    })
    expect(w.findAll('.item.missing').map((i) => i.attributes('data-field'))).toEqual(['number'])
    for (const f of ['copy_no', 'cc']) {
      const item = w.get(`[data-field="${f}"]`)
      expect(item.get('.flag.none').text()).toBe('未标注')
      expect(item.text()).not.toContain('缺少')
    }
    expect(w.get('[data-field="number"]').find('.flag.none').exists()).toBe(false)
  })

  it('marks a missing field 已补填 once the clerk fills it in', async () => {
    const { w } = render()
    await w.get('[data-field="printed_by"] input').setValue('东营市人民政府办公室')
    await nextTick()
    const item = w.get('[data-field="printed_by"]')
    expect(item.classes()).toContain('supplied')
    expect(item.text()).toContain('已补填')
  })

  it('shows the body read-only, as text, headings by level', () => {
    const { w } = render()
    const body = w.get('[data-field="body"]')
    expect(body.find('textarea').exists()).toBe(false)
    expect(body.find('img').exists()).toBe(false)
    expect(body.text()).toContain(EVIL)
    expect(body.find('.para.l1').text()).toBe('一、总体要求')
    expect(body.findAll('td').map((c) => c.text())).toEqual(['物资', '缺口'])
  })

  it('says what is wrong next to the field once the clerk tried to go on', () => {
    i18n.global.locale.value = 'zh-CN'
    const d = doc()
    const form = { ...toForm(d), title: '', date: '2026-11-20' }
    const w = mount(DocFieldsForm, {
      props: { modelValue: form, doc: d, labels: LABELS, missing: [], problems: problems(form), showProblems: true },
      global: { plugins: [i18n] },
    })
    expect(w.get('[data-field="title"]').text()).toContain('请填写标题')
    expect(w.get('[data-field="date"]').text()).toContain('日期格式应如：2026年11月20日')
    expect(w.get('[data-field="date"]').classes()).toContain('is-error')
  })
})

import { describe, expect, it } from 'vitest'
import type { ExDocument } from '@/apis/exchange'
import { filled, isClerk, matchUnits, problems, toDocument, toForm } from '@/pages/exchange/model'

// What the hub's import answers for tests/exchange/samples/request-upward.docx.
function imported(extra: Partial<ExDocument> = {}): ExDocument {
  return {
    kind: '请示', direction: '上行文', copy_no: null, secrecy: null, urgency: '特急', issuer: '利津县人民政府文件',
    number: { text: '利政发〔2026〕8号', agency: '利政发', year: 2026, serial: 8 }, signer: ['李建国'],
    title: '利津县人民政府关于申请拨付防汛物资储备资金的请示', to: ['东营市人民政府'],
    body: [{ type: 'paragraph', text: '今年汛期我县降雨偏多。', level: 0 }, { type: 'table', rows: [['物资', '缺口']] }],
    attachments: [{ name: '利津县防汛物资储备需求清单', file: 'attachments/1.xlsx' }], signed_by: ['利津县人民政府'],
    date: { text: '2026年11月18日', iso: '2026-11-18' }, note: '（联系人：王晓明）', cc: [], printed_by: null, printed_date: null,
    missing: ['copy_no', 'secrecy', 'cc', 'printed_by', 'printed_date'],
    ...extra,
  }
}

describe('the 发文 form', () => {
  it('round-trips an imported document unchanged, printed forms as text', () => {
    const doc = imported()
    const out = toDocument(toForm(doc), doc)
    expect(out.number).toBe('利政发〔2026〕8号')
    expect(out.date).toBe('2026年11月18日')
    expect(out.printed_date).toBeNull()
    expect(out.body).toBe(doc.body)
    expect(out.attachments).toEqual(doc.attachments)
    expect(out.missing).toEqual(doc.missing)
    expect(out.signer).toEqual(['李建国'])
  })

  it('drops a field from missing once the clerk fills it in, and only then', () => {
    const doc = imported()
    const form = toForm(doc)
    expect(filled(form, 'printed_by')).toBe(false)
    form.printed_by = '  利津县人民政府办公室 '
    form.cc = ['东营市财政局', ' ']
    const out = toDocument(form, doc)
    expect(out.printed_by).toBe('利津县人民政府办公室')
    expect(out.cc).toEqual(['东营市财政局'])
    expect(out.missing).toEqual(['copy_no', 'secrecy', 'printed_date'])
  })

  it('splits and joins 密级★期限', () => {
    const doc = imported({ secrecy: '机密★1年', missing: [] })
    const form = toForm(doc)
    expect([form.secrecy_level, form.secrecy_term]).toEqual(['机密', '1年'])
    form.secrecy_term = ''
    expect(toDocument(form, doc).secrecy).toBe('机密')
    form.secrecy_level = ''
    expect(toDocument(form, doc).secrecy).toBeNull()
  })

  it('keeps the file reference of an attachment that stays, none for a new one', () => {
    const doc = imported()
    const form = toForm(doc)
    form.attachments = [...form.attachments, '补充说明']
    expect(toDocument(form, doc).attachments).toEqual([
      { name: '利津县防汛物资储备需求清单', file: 'attachments/1.xlsx' }, { name: '补充说明', file: null },
    ])
  })

  it('says early what the hub would refuse', () => {
    const form = toForm(imported())
    expect(problems(form)).toEqual({})
    form.title = ' '
    form.number = '利政发2026第8号'
    form.date = '2026-11-18'
    form.printed_date = '二〇二六年十一月二十日'
    form.copy_no = 'A1'
    form.secrecy_term = '1年'
    expect(problems(form)).toEqual({ title: 'required', number: 'number', date: 'date', copy_no: 'copy_no', secrecy: 'secrecy_term' })
    form.number = '第12号'
    form.date = '2026年 11月18日'
    expect(problems(form).number).toBeUndefined()
    expect(problems(form).date).toBeUndefined()
    form.number = '东政办发[2026]第07号'
    expect(problems(form).number).toBeUndefined()
  })

  it('finds units by name or code and knows who is a clerk', () => {
    const units = [{ code: 'dy-city', name: '东营市人民政府' }, { code: 'dy-kenli', name: '垦利区人民政府' }]
    expect(matchUnits(units, '垦利').map((u) => u.code)).toEqual(['dy-kenli'])
    expect(matchUnits(units, 'CITY').map((u) => u.code)).toEqual(['dy-city'])
    expect(matchUnits(units, ' ')).toHaveLength(2)
    expect(isClerk(['clerk'])).toBe(true)
    expect(isClerk(['admin'])).toBe(true)
    expect(isClerk([])).toBe(false)
    expect(isClerk(undefined)).toBe(false)
  })
})

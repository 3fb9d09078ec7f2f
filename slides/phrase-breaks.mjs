// Japanese line breaks at phrase boundaries, decided at build time.
//
// A markdown-it plugin: every text run with Japanese in it is split into
// phrases by BudouX and the phrases are joined with <wbr>. The deck's CSS
// (`word-break: keep-all`) then breaks lines only there, in every browser
// (no Chromium-only `word-break: auto-phrase`).
import { loadDefaultJapaneseParser } from 'budoux'

const parser = loadDefaultJapaneseParser()
const JAPANESE = /[\u3040-\u30FF\u3400-\u9FFF\uFF01-\uFF60]/

export function phrases(text) {
  return JAPANESE.test(text) ? parser.parse(text) : [text]
}

function splitChildren(state, children) {
  const result = []
  for (const child of children) {
    if (child.type !== 'text' || !JAPANESE.test(child.content)) {
      result.push(child)
      continue
    }
    phrases(child.content).forEach((phrase, index) => {
      if (index > 0) {
        const wbr = new state.Token('html_inline', '', 0)
        wbr.content = '<wbr>'
        result.push(wbr)
      }
      const text = new state.Token('text', '', 0)
      text.content = phrase
      result.push(text)
    })
  }
  return result
}

export default function phraseBreaks(md) {
  md.core.ruler.push('budoux_phrase_breaks', (state) => {
    for (const token of state.tokens) {
      if (token.type === 'inline' && token.children)
        token.children = splitChildren(state, token.children)
    }
  })
}

// Open every slide of a built deck in one headless Chromium session and
// measure what a projected audience sees. pytest judges the figures.
//
// usage: node check_deck.mjs <slides dir> <deck url> <profile dir> <total>
//        [<numbers of the slides with a Mermaid diagram, comma-separated>]
// Prints one JSON object:
//   lang, remote (requests that left 127.0.0.1), errors (page errors),
//   slides: {n: {text, title, headingFonts, overflow, codePx, codeBlocks,
//            shikiSpans, contrast, faded, headings, labels, mermaid,
//            diagramShare, wbr, number}},
//   presenter: {n: notes text shown in the presenter view}
import { createRequire } from 'node:module'
import path from 'node:path'

const [slidesDir, deckUrl, profile, totalArg, diagramsArg = ''] = process.argv.slice(2)
const total = Number(totalArg)
// A diagram is drawn after its slide shows: wait for its SVG on these slides
// (asking the page whether it has one would race with the drawing).
const diagrams = new Set(diagramsArg.split(',').filter(Boolean).map(Number))
const require = createRequire(path.join(path.resolve(slidesDir), 'package.json'))
const { chromium } = require('playwright-chromium')

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
  ],
})
const report = { slides: {}, presenter: {}, remote: [], errors: [] }

// Runs in the page: every figure of the slide on screen.
function measure(n) {
  const page = [...document.querySelectorAll(`.slidev-page-${n}`)]
    .find(e => e.getBoundingClientRect().width > 0)
  const box = page.getBoundingClientRect()
  const scale = box.width / 980
  const parse = (color) => {
    const m = color.match(/rgba?\(([^)]+)\)/)
    if (!m) return [0, 0, 0, 1]
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number)
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]
  }
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
  }
  const over = (top, bottom) => {
    const a = top[3]
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat(1)
  }
  const parentOf = e => e.parentElement ?? e.getRootNode().host ?? null
  const background = (element) => {
    const layers = []
    for (let e = element; e; e = parentOf(e)) {
      const style = getComputedStyle(e)
      const color = parse(style.backgroundColor)
      if (style.backgroundImage !== 'none')
        layers.push({ image: style.backgroundImage })
      if (color[3] > 0) layers.push(color)
      if (color[3] >= 1) break
    }
    let result = [255, 255, 255, 1]
    for (const layer of layers.reverse()) {
      if (layer.image) return null // an image: measured apart
      result = over(layer, result)
    }
    return result
  }
  const opacity = (element) => {
    let value = 1
    for (let e = element; e; e = parentOf(e))
      value *= Number(getComputedStyle(e).opacity)
    return value
  }
  // line boxes of a node: its fragments, grouped by their vertical middle
  // (an inline <code> with padding sits on the same line as the text)
  const lines = (node) => {
    const range = document.createRange()
    range.selectNodeContents(node)
    const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement
    const size = parseFloat(getComputedStyle(element).fontSize) * scale
    const middles = [...range.getClientRects()]
      .filter(rect => rect.width > 0.5)
      .map(rect => (rect.top + rect.bottom) / 2)
      .sort((a, b) => a - b)
    let count = 0
    let last = -Infinity
    for (const middle of middles) {
      if (middle - last > size * 0.6) count += 1
      last = middle
    }
    return count
  }
  const textNodes = (root) => {
    const found = []
    const walk = (node) => {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim())
        found.push(node)
      if (node.shadowRoot) walk(node.shadowRoot)
      for (const child of node.childNodes) walk(child)
    }
    walk(root)
    return found
  }
  const describe = e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`
    + ` "${(e.textContent || '').trim().slice(0, 40)}"`

  const result = {
    text: page.innerText,
    title: page.querySelector('h1')?.textContent.trim() ?? '',
    overflow: [],
    codePx: [],
    codeBlocks: page.querySelectorAll('pre.shiki').length,
    shikiSpans: page.querySelectorAll('pre.shiki span[style]').length,
    contrast: [],
    faded: [],
    headings: [],
    labels: [],
    mermaid: 0,
    mermaidText: '',
    diagramShare: [],
    wbr: page.querySelectorAll('wbr').length,
    number: [...document.querySelectorAll('.slide-number')]
      .map(e => e.textContent.trim()).filter(Boolean).join(' '),
  }
  for (const node of textNodes(page)) {
    const element = node.parentElement
    if (!element) continue
    const rect = element.getBoundingClientRect()
    if (rect.width === 0 && rect.height === 0) continue
    const style = getComputedStyle(element)
    if (style.visibility === 'hidden') continue
    const range = document.createRange()
    range.selectNodeContents(node)
    for (const r of range.getClientRects()) {
      if (r.width < 0.5) continue
      if (r.left < box.left - 1 || r.right > box.right + 1
        || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        result.overflow.push(describe(element))
        break
      }
    }
    const alpha = opacity(element)
    if (alpha < 0.99) result.faded.push(`${describe(element)} opacity ${alpha.toFixed(2)}`)
    const bg = background(element)
    if (bg) {
      const fg = parse(style.color)
      const shown = over([fg[0], fg[1], fg[2], fg[3] * alpha], bg)
      const [l1, l2] = [luminance(shown), luminance(bg)].sort((a, b) => b - a)
      const ratio = (l1 + 0.05) / (l2 + 0.05)
      result.contrast.push([Math.round(ratio * 100) / 100, describe(element)])
    }
    else {
      result.contrast.push([null, describe(element)])
    }
    if (element.closest('pre, code'))
      result.codePx.push([parseFloat(style.fontSize) * scale, describe(element)])
  }
  for (const heading of page.querySelectorAll('h1, h2')) {
    result.headings.push([lines(heading), heading.textContent.trim()])
  }
  const hosts = [...page.querySelectorAll('.mermaid')]
  for (const host of hosts) {
    const root = host.shadowRoot ?? host
    const svg = root.querySelector('svg')
    if (!svg) continue
    result.mermaid += 1
    result.mermaidText += ` ${svg.textContent}`
    const r = svg.getBoundingClientRect()
    result.diagramShare.push([
      Math.round((r.width / box.width) * 100) / 100,
      Math.round((r.height / box.height) * 100) / 100,
    ])
    for (const label of root.querySelectorAll('.nodeLabel, .edgeLabel, .cluster-label, text')) {
      for (const node of textNodes(label)) {
        // one text node is one line: <br/> splits a label into nodes
        const count = lines(node)
        if (count > 1) result.labels.push(`${count} 行: ${node.textContent.trim()}`)
      }
    }
  }
  return result
}

try {
  const page = context.pages()[0] ?? await context.newPage()
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.protocol.startsWith('http') && url.hostname !== '127.0.0.1')
      report.remote.push(request.url())
  })
  page.on('pageerror', error => report.errors.push(String(error)))
  await page.goto(`${deckUrl}#/1`, { waitUntil: 'load' })
  // no slide transition: measure the slide at rest, at once
  await page.addStyleTag({ content: '*, *::before, *::after { transition: none !important; animation: none !important; }' })
  await page.evaluate(() => document.fonts.ready)
  report.lang = await page.evaluate(() => document.documentElement.lang)
  for (let n = 1; n <= total; n++) {
    if (n > 1)
      await page.evaluate(number => { location.hash = `#/${number}` }, n)
    const slide = page.locator(`.slidev-page-${n}`).filter({ visible: true }).first()
    await slide.waitFor({ state: 'visible', timeout: 30000 })
    if (diagrams.has(n) || await slide.locator('.mermaid').count()) {
      await page.waitForFunction((number) => {
        const hosts = [...document.querySelectorAll(`.slidev-page-${number} .mermaid`)]
        return hosts.length > 0 && hosts.every(host => (host.shadowRoot ?? host).querySelector('svg'))
      }, n, { timeout: 30000 })
    }
    await page.waitForFunction(number => [...document.querySelectorAll(`.slidev-page-${number}`)]
      .some(e => e.getBoundingClientRect().left >= 0 && e.innerText.trim()), n, { timeout: 30000 })
    report.slides[n] = await page.evaluate(measure, n)
    if (n === 1) {
      const cdp = await context.newCDPSession(page)
      await cdp.send('DOM.enable')
      await cdp.send('CSS.enable')
      const { root } = await cdp.send('DOM.getDocument', { depth: -1 })
      const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: '.slidev-page-1 h1' })
      const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId })
      report.slides[1].headingFonts = fonts.map(font => font.familyName)
      await cdp.detach()
    }
  }
  // the presenter view: its notes panel shows the slide's speaker notes
  for (const n of [2, Math.ceil(total / 2), total]) {
    await page.goto(`${deckUrl}#/presenter/${n}`, { waitUntil: 'load' })
    const notes = page.locator('.slidev-note').first()
    await notes.waitFor({ state: 'visible', timeout: 30000 })
    report.presenter[n] = (await notes.innerText()).trim()
  }
  report.url = page.url()
}
finally {
  await context.close()
}
console.log(JSON.stringify(report))

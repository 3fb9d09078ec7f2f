// Open slides of a built deck in headless Chromium and report what rendered.
//
// usage: node render_deck.mjs <slides dir> <deck url> <profile dir> <n>...
// A number written as <n>:mermaid waits for that slide's Mermaid picture.
// Prints one JSON object: for every slide number n, its text, the number of
// highlighted code tokens (shiki spans) and of drawn Mermaid SVGs; plus the
// requests that left 127.0.0.1 and the page errors. pytest judges them.
import { createRequire } from 'node:module'
import path from 'node:path'

const [slidesDir, deckUrl, profile, ...numbers] = process.argv.slice(2)
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
const report = { slides: {}, remote: [], errors: [] }

// The fonts Chromium really drew a node's text with (not the CSS wish list).
async function platformFonts(page, selector) {
  const cdp = await page.context().newCDPSession(page)
  try {
    await cdp.send('DOM.enable')
    await cdp.send('CSS.enable')
    const { root } = await cdp.send('DOM.getDocument', { depth: -1 })
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector })
    if (!nodeId)
      return []
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId })
    return fonts.map(font => ({ family: font.familyName, glyphs: font.glyphCount }))
  }
  finally {
    await cdp.detach()
  }
}
try {
  const page = context.pages()[0] ?? await context.newPage()
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.protocol.startsWith('http') && url.hostname !== '127.0.0.1')
      report.remote.push(request.url())
  })
  page.on('pageerror', error => report.errors.push(String(error)))
  for (const [n, wait] of numbers.map(arg => arg.split(':'))) {
    await page.goto(`${deckUrl}#/${n}`, { waitUntil: 'load' })
    // Slidev may keep a hidden copy of a slide around: take the shown one,
    // once its heading is on screen (after the slide transition).
    const slide = page.locator(`.slidev-page-${n}`).filter({ visible: true }).first()
    await slide.locator('h1').first().waitFor({ state: 'visible', timeout: 30000 })
    await page.waitForFunction(
      selector => [...document.querySelectorAll(selector)].some(e => e.innerText.trim()),
      `.slidev-page-${n}`,
      { timeout: 30000 },
    )
    // Mermaid draws asynchronously, into a shadow root (locators pierce it).
    if (wait === 'mermaid')
      await slide.locator('.mermaid svg').first().waitFor({ timeout: 30000 })
    report.slides[n] = await slide.evaluate((element) => {
      // Slidev draws each Mermaid picture inside a shadow root.
      const svgs = [...element.querySelectorAll('.mermaid')]
        .flatMap(host => [...(host.shadowRoot ?? host).querySelectorAll('svg')])
      return {
        text: element.innerText,
        shikiSpans: element.querySelectorAll('pre.shiki span[style]').length,
        codeBlocks: element.querySelectorAll('pre.shiki').length,
        mermaidSvgs: svgs.length,
        mermaidText: svgs.map(svg => svg.textContent).join(' '),
        fontFamily: getComputedStyle(element).fontFamily,
      }
    })
    report.slides[n].headingFonts = await platformFonts(page, `.slidev-page-${n} h1`)
  }
  report.url = page.url()
}
finally {
  await context.close()
}
console.log(JSON.stringify(report))

import { defineConfig } from 'vite'
import phraseBreaks from './phrase-breaks.mjs'

export default defineConfig({
  slidev: {
    markdown: {
      markdownSetup(md) {
        md.use(phraseBreaks)
      },
    },
  },
})

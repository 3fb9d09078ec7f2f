import { defineShikiSetup } from '@slidev/types'

// High-contrast themes: comments carry teaching points and must stay
// legible on a projector (>= 4.5:1 against the code background).
export default defineShikiSetup(() => ({
  themes: {
    dark: 'github-dark-high-contrast',
    light: 'github-light-high-contrast',
  },
}))

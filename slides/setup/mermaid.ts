import { defineMermaidSetup } from '@slidev/types'

// Labels keep their lines (a <br/> in the source is the only break) and
// use the deck's colours, large enough to read when projected.
export default defineMermaidSetup(() => ({
  theme: 'base',
  fontFamily: 'Noto Sans CJK JP, Noto Sans JP, Hiragino Sans, Yu Gothic, Meiryo, sans-serif',
  flowchart: { wrappingWidth: 600, padding: 12 },
  themeVariables: {
    fontSize: '18px',
    primaryColor: '#e8f0f3',
    primaryBorderColor: '#24495a',
    primaryTextColor: '#111111',
    lineColor: '#24495a',
    textColor: '#111111',
    clusterBkg: '#f7f9fa',
    clusterBorder: '#24495a',
  },
  themeCSS: '.nodeLabel, .edgeLabel, .label, .cluster-label { white-space: nowrap; }',
}))

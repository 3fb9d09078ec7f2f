// `npm run export`: the deck as a PDF, rendered by the machine's Chromium.
// CHROMIUM_PATH names the browser; without it the usual Linux paths are
// tried. Extra arguments go to `slidev export` (e.g. `-- --output x.pdf`).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
const candidates = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
].filter(Boolean)
const browser = candidates.find(path => existsSync(path))
if (process.env.CHROMIUM_PATH && browser !== process.env.CHROMIUM_PATH) {
  console.error(`CHROMIUM_PATH が見つかりません (not found): ${process.env.CHROMIUM_PATH}`)
  process.exit(1)
}
if (browser && !args.includes('--executable-path'))
  args.push('--executable-path', browser)
if (!args.includes('--output'))
  args.push('--output', 'dblab-slides.pdf')
if (!args.includes('--timeout'))
  args.push('--timeout', '120000')

const here = path.dirname(fileURLToPath(import.meta.url))
const windows = process.platform === 'win32'
const slidev = path.join(here, 'node_modules', '.bin', windows ? 'slidev.cmd' : 'slidev')
const result = spawnSync(slidev, ['export', ...args], {
  cwd: here,
  stdio: 'inherit',
  shell: windows,
})
if (result.error)
  console.error(`slidev を起動できません (npm ci を実行しましたか?): ${result.error.message}`)
process.exit(result.status ?? 1)

// @ts-check
/**
 * One history entry: moving between the app's pages replaces the current
 * entry instead of adding one, so after a quick exit the browser's Back
 * leads to whatever came before the app, never to one of its pages. The app
 * keeps its own short trail (in sessionStorage, which the exit clears) for
 * its Back button. Links to a place on the same page move focus there
 * without touching the history at all.
 */

const TRAIL_KEY = 'app-trail'
const TRAIL_LENGTH = 20

/**
 * Goes to another of the app's pages. The page is hidden on the way, as when
 * the person leaves; the mark on <html> tells the quick exit that this is a
 * move within the app, so that the installed disguise does not lock.
 * @param {string} url
 */
function move (url) {
  document.documentElement.dataset.moving = 'within'
  window.location.replace(url)
}

function readTrail () {
  try {
    const trail = JSON.parse(window.sessionStorage.getItem(TRAIL_KEY) || '[]')
    return Array.isArray(trail) ? trail.filter((item) => typeof item === 'string') : []
  } catch {
    return []
  }
}

/** @param {string[]} trail */
function writeTrail (trail) {
  try {
    window.sessionStorage.setItem(TRAIL_KEY, JSON.stringify(trail.slice(-TRAIL_LENGTH)))
  } catch {
    // Without sessionStorage there is no trail; Back stays hidden.
  }
}

function here () {
  return window.location.pathname + window.location.search
}

export class AppNavigation {
  static moduleName = 'app-navigation'

  /** @param {HTMLButtonElement} $root - the app's own Back button */
  constructor ($root) {
    this.$root = $root
  }

  init () {
    const trail = readTrail()
    if (trail[trail.length - 1] !== here()) trail.push(here())
    writeTrail(trail)
    this.$root.hidden = trail.length < 2
    this.keepPlaceInPicker(trail)
    this.$root.addEventListener('click', () => this.back())
    document.addEventListener('click', (event) => this.follow(event))
  }

  /**
   * Arrived at the language picker from another page: each language's link
   * leads to that same page in the other language.
   * @param {string[]} trail
   */
  keepPlaceInPicker (trail) {
    if (window.location.hash !== '#languages') return
    const lang = document.documentElement.lang
    const previous = trail[trail.length - 2] || ''
    if (!previous.startsWith(`/${lang}/`) || previous === here()) return
    const rest = previous.slice(lang.length + 2)
    for (const $link of /** @type {NodeListOf<HTMLAnchorElement>} */ (document.querySelectorAll('#languages a[data-language]'))) {
      $link.href = `/${$link.dataset.language}/${rest}`
    }
  }

  back () {
    const trail = readTrail()
    trail.pop()
    const previous = trail[trail.length - 1]
    if (!previous) return
    writeTrail(trail.slice(0, -1))
    move(previous)
  }

  /** @param {MouseEvent} event */
  follow (event) {
    if (event.defaultPrevented || event.button !== 0) return
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    /** @type {HTMLAnchorElement | null} */
    const $link = event.target instanceof Element ? event.target.closest('a[href]') : null
    if (!$link || $link.target || $link.hasAttribute('download')) return
    if ($link.matches('[data-quick-exit], [data-quick-exit-link]')) return
    const url = new URL($link.href, window.location.href)
    if (url.origin !== window.location.origin) return
    if (url.pathname.startsWith('/advisor/') || url.pathname.startsWith('/api/')) return
    event.preventDefault()
    if (url.pathname === window.location.pathname && url.search === window.location.search && url.hash) {
      const $target = document.getElementById(decodeURIComponent(url.hash.slice(1)))
      if ($target) {
        if (!$target.hasAttribute('tabindex')) $target.setAttribute('tabindex', '-1')
        $target.focus()
        $target.scrollIntoView()
      }
      return
    }
    move(url.href)
  }
}

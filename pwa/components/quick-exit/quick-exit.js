/**
 * Quick exit: the page disappears in the same frame as the click, then the
 * current history entry is replaced by a neutral site, so Back does not
 * return here. Without JavaScript the control is a plain link to that site.
 */
export class QuickExit {
  static moduleName = 'quick-exit'

  /**
   * @param {HTMLAnchorElement} $root - the exit link
   * @param {{ url?: string }} [config]
   */
  constructor ($root, config = {}) {
    this.$root = $root
    this.url = config.url || $root.href
  }

  init () {
    this.$root.addEventListener('click', (event) => {
      event.preventDefault()
      this.exit()
    })
    // A page brought back from the back/forward cache after an exit must not
    // show its content again.
    window.addEventListener('pageshow', (event) => {
      if (event.persisted && document.documentElement.classList.contains('is-exiting')) {
        window.location.replace(this.url)
      }
    })
  }

  exit () {
    // Hiding first: the class is applied before the next paint, so nothing of
    // the page is drawn again, whatever the navigation takes.
    document.documentElement.classList.add('is-exiting')
    document.title = '\u200b'
    for (const form of document.forms) form.reset()
    try {
      window.sessionStorage.clear()
    } catch {
      // Storage may be blocked; there is then nothing in it to clear.
    }
    window.location.replace(this.url)
  }
}

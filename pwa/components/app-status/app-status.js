// @ts-check
/**
 * Talks to the service worker: registers it, shows the download progress and
 * "works offline now" on first install, asks it to store the pages of the
 * language being read, and offers (never forces) a waiting update.
 */
export class AppStatus {
  static moduleName = 'app-status'

  /** @param {Rendered} $root */
  constructor ($root) {
    this.$root = $root
    this.$text = /** @type {HTMLElement} */ ($root.querySelector('.app-status__text'))
    this.$progress = /** @type {HTMLProgressElement} */ ($root.querySelector('.app-status__progress'))
    this.lang = document.documentElement.lang
  }

  init () {
    if (!('serviceWorker' in navigator)) return
    const container = navigator.serviceWorker
    this.hadController = Boolean(container.controller)
    container.addEventListener('message', (event) => this.onMessage(event.data || {}))
    container.addEventListener('controllerchange', () => {
      // Only a user-accepted update reloads; the first install just takes control.
      if (this.reloading) window.location.reload()
    })
    container.register('/sw.js', { scope: '/' }).then((registration) => {
      this.registration = registration
      this.watchForUpdate(registration)
      return container.ready
    }).then((registration) => {
      registration.active?.postMessage({ type: 'cache-language', lang: this.lang })
    }).catch((error) => console.error('service worker', error))
  }

  /** @param {ServiceWorkerRegistration} registration */
  watchForUpdate (registration) {
    if (registration.waiting) this.offerUpdate(registration.waiting)
    if (registration.installing) this.track(registration.installing)
    registration.addEventListener('updatefound', () => {
      if (registration.installing) this.track(registration.installing)
    })
  }

  /**
   * Offers an installing worker once it waits; the very first one just activates.
   * @param {ServiceWorker} worker
   */
  track (worker) {
    // Whether another version controlled the page when this one started to
    // install: asked now, not once it is installed, since WebKit may tell the
    // page that its very first worker is installed only after that worker
    // has taken control, which then looked like an update.
    const replacing = Boolean(navigator.serviceWorker.controller)
    worker.addEventListener('statechange', () => {
      if (worker.state === 'installed' && replacing) this.offerUpdate(worker)
    })
  }

  /**
   * What the worker tells the pages (service_worker/strategies.js).
   * @param {{type: 'progress', lang: string, done: number, total: number} | {type: 'cached', lang: string, fresh: boolean}} message
   */
  onMessage (message) {
    // A waiting update stores its own copy in the background; its progress
    // must not replace the offer to use it.
    if (this.$root.dataset.state === 'update') return
    if (message.type === 'progress' && message.lang === this.lang) {
      this.showProgress(message.done, message.total)
    } else if (message.type === 'cached' && message.lang === this.lang && message.fresh) {
      this.show(this.$root.dataset.i18nReady)
      this.$root.dataset.state = 'ready'
    }
  }

  /**
   * @param {number} done
   * @param {number} total
   */
  showProgress (done, total) {
    const text = this.$root.dataset.i18nProgress
      .replace('{done}', String(done)).replace('{total}', String(total))
    this.show(text)
    this.$progress.hidden = false
    this.$progress.max = total
    this.$progress.value = done
  }

  /** @param {ServiceWorker} worker */
  offerUpdate (worker) {
    if (!navigator.serviceWorker.controller || this.$root.dataset.state === 'update') return
    this.show(this.$root.dataset.i18nUpdate)
    const $button = document.createElement('button')
    $button.type = 'button'
    $button.className = 'button button--secondary app-status__action'
    $button.textContent = this.$root.dataset.i18nReload
    $button.addEventListener('click', () => {
      this.reloading = true
      worker.postMessage({ type: 'skip-waiting' })
    })
    this.$root.append($button)
    this.$root.dataset.state = 'update'
  }

  /** @param {string} text */
  show (text) {
    this.$text.textContent = text
    this.$progress.hidden = true
    this.$root.hidden = false
  }
}

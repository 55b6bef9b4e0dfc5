// @ts-check
/**
 * The dashboard's one script: the "notify me on this device" toggle.
 *
 * It registers the dashboard's own service worker (scope /advisor/, it only
 * shows notifications), subscribes with the server's VAPID key and sends the
 * subscription, with the CSRF token, to /advisor/api/push-subscription.
 * After the operator rotates the VAPID key, a subscription made for the old
 * key no longer receives anything: it is replaced by one for the new key.
 */

const WORKER = '/advisor/sw.js'

function csrfToken () {
  const $meta = document.querySelector('meta[name="csrf-token"]')
  return ($meta && $meta.getAttribute('content')) || ''
}

/** @param {string} base64url */
function keyBytes (base64url) {
  const padded = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - base64url.length % 4) % 4)
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))
}

/**
 * Whether a subscription's applicationServerKey is the server's current key.
 * @param {ArrayBuffer | null} subscribed
 * @param {Uint8Array} current
 */
function sameKey (subscribed, current) {
  if (!subscribed || subscribed.byteLength !== current.length) return false
  const bytes = new Uint8Array(subscribed)
  return bytes.every((byte, index) => byte === current[index])
}

async function serverKey () {
  const { publicKey } = await (await fetch('/advisor/api/push-key', { credentials: 'same-origin' })).json()
  return keyBytes(publicKey)
}

/**
 * @param {string} url
 * @param {object} body
 */
async function post (url, body) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken() },
    body: JSON.stringify(body)
  })
  if (!response.ok) throw new Error(`the server answered ${response.status}`)
  return response.json()
}

class PushToggle {
  static moduleName = 'push-toggle'

  /**
   * @param {Rendered<HTMLButtonElement>} $button
   * @param {HTMLElement | null} $status
   */
  constructor ($button, $status) {
    this.$button = $button
    this.$status = $status
  }

  async start () {
    if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
      this.say(this.$button.dataset.unsupported)
      return
    }
    /** @type {ServiceWorkerRegistration} */
    this.registration = await navigator.serviceWorker.register(WORKER, { scope: '/advisor/' })
    let subscription = await this.registration.pushManager.getSubscription()
    if (subscription) subscription = await this.renew(subscription).catch(() => subscription)
    this.show(Boolean(subscription))
    this.$button.hidden = false
    this.$button.addEventListener('click', () => this.toggle())
  }

  /**
   * A subscription made for another VAPID key than the server's is made again.
   * @param {PushSubscription} subscription
   */
  async renew (subscription) {
    const current = await serverKey()
    if (sameKey(subscription.options.applicationServerKey, current)) return subscription
    await subscription.unsubscribe()
    if (Notification.permission !== 'granted') return null
    const renewed = await this.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: current
    })
    await post('/advisor/api/push-subscription', renewed.toJSON())
    return renewed
  }

  /** @param {boolean} on */
  show (on) {
    this.$button.setAttribute('aria-pressed', on ? 'true' : 'false')
    this.$button.textContent = on ? this.$button.dataset.on : this.$button.dataset.off
  }

  /** @param {string} [text] */
  say (text) {
    if (this.$status) this.$status.textContent = text || ''
  }

  async toggle () {
    this.$button.disabled = true
    this.say('')
    try {
      const existing = await this.registration.pushManager.getSubscription()
      if (existing) {
        await post('/advisor/api/push-subscription/remove', { endpoint: existing.endpoint })
        await existing.unsubscribe()
        this.show(false)
        return
      }
      if (await Notification.requestPermission() !== 'granted') {
        this.say(this.$button.dataset.denied)
        return
      }
      const subscription = await this.registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: await serverKey()
      })
      await post('/advisor/api/push-subscription', subscription.toJSON())
      this.show(true)
    } catch {
      this.say(this.$button.dataset.failed)
    } finally {
      this.$button.disabled = false
    }
  }
}

/** @type {Rendered<HTMLButtonElement> | null} */
const $button = document.querySelector('[data-push-toggle]')
if ($button) {
  new PushToggle($button, document.querySelector('[data-push-status]')).start().catch(() => {})
}

// @ts-check
/**
 * Quick exit. Triggers: the exit button at the top of every screen, the skip
 * link that keyboard focus reaches first, Shift pressed three times within
 * five seconds (alone, not with another key), and Escape pressed twice
 * outside a text field or dialog.
 *
 * In the same frame as the trigger the page is hidden; then what must not
 * stay is wiped (forms, sessionStorage, and through Lock.lockNow the
 * outbox's receipts) and the current history entry is replaced: by the
 * operator's neutral site when online, by the neutral page the service
 * worker keeps when offline, or by the disguise's own screen inside the
 * installed disguise. Messages still waiting in the outbox are never touched.
 *
 * While the page is hidden (task switcher, another app) its content is
 * covered; the installed disguise locks instead. A page restored from the
 * back/forward cache leaves at once.
 */
import { Lock } from '../../disguise/lock.js'

const WINDOW_MS = 5000
const TEXT_INPUTS = /^(text|search|email|tel|url|password|number|date|time|datetime-local|month|week)$/

/** @param {EventTarget | null} target */
function isTextField (target) {
  if (!(target instanceof HTMLElement)) return false
  if (target.isContentEditable) return true
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true
  return target instanceof HTMLInputElement && TEXT_INPUTS.test(target.type || 'text')
}

/** @param {EventTarget | null} target */
function inDialog (target) {
  return target instanceof Element && Boolean(target.closest('dialog, [role="dialog"], [aria-modal="true"]'))
}

/** Presses of one key, counted within WINDOW_MS of the first of them. */
class Presses {
  constructor () {
    this.reset()
  }

  reset () {
    /** @type {number} */
    this.count = 0
    /** @type {number} */
    this.started = 0
  }

  /**
   * @param {number} now
   * @returns {number} the presses so far, this one included
   */
  add (now) {
    if (this.count === 0 || now - this.started > WINDOW_MS) {
      this.count = 0
      this.started = now
    }
    this.count += 1
    return this.count
  }

  /**
   * @param {number} now
   * @returns {number} milliseconds left before the count starts again
   */
  left (now) {
    return WINDOW_MS - (now - this.started)
  }
}

export class QuickExit {
  static moduleName = 'quick-exit'
  static started = false

  /** @param {HTMLAnchorElement} $root - the exit button (a link to the neutral site) */
  constructor ($root) {
    this.$root = $root
    this.url = $root.href
    this.offlineUrl = $root.dataset.offlineUrl || '/calculator'
    this.$status = document.querySelector('[data-quick-exit-status]')
    this.texts = {
      once: $root.dataset.i18nShiftOnce || '',
      twice: $root.dataset.i18nShiftTwice || '',
      cancelled: $root.dataset.i18nShiftCancelled || ''
    }
    this.shift = new Presses()
    this.escape = new Presses()
    this.resetKeys()
  }

  init () {
    this.$root.addEventListener('click', (event) => {
      event.preventDefault()
      this.exit()
    })
    if (QuickExit.started) return
    QuickExit.started = true
    for (const $link of document.querySelectorAll('[data-quick-exit-link]')) {
      $link.addEventListener('click', (event) => {
        event.preventDefault()
        this.exit()
      })
    }
    document.addEventListener('keydown', (event) => this.keydown(event), true)
    document.addEventListener('keyup', (event) => this.keyup(event), true)
    window.addEventListener('pageshow', (event) => {
      // Brought back from the back/forward cache: never show the content again.
      if (event.persisted) this.exit()
    })
    document.addEventListener('visibilitychange', () => this.visibility())
    if (Lock.inShell()) {
      // Inside the installed disguise the app is only shown once unlocked,
      // and goes back to the disguise after a while without use.
      if (!Lock.unlocked()) {
        this.exit()
        return
      }
      this.watchIdle(Lock.read()?.idleMinutes)
    }
  }

  /** @param {number} [minutes] */
  watchIdle (minutes) {
    const limit = Math.max(1, Number(minutes) || 5) * 60 * 1000
    let timer = setTimeout(() => this.exit(), limit)
    const restart = () => {
      clearTimeout(timer)
      timer = setTimeout(() => this.exit(), limit)
    }
    for (const type of ['pointerdown', 'keydown', 'scroll', 'touchstart', 'input']) {
      window.addEventListener(type, restart, { passive: true, capture: true })
    }
  }

  // --- keys ----------------------------------------------------------------

  resetKeys () {
    this.shiftHeld = false
    this.combined = false
    this.shift.reset()
    this.escape.reset()
    clearTimeout(this.shiftTimer)
  }

  /** @param {KeyboardEvent} event */
  keydown (event) {
    if (event.key === 'Shift') {
      if (!event.repeat) {
        this.shiftHeld = true
        this.combined = false
      }
      return
    }
    // Any other key breaks a Shift sequence (and marks a held Shift as combined).
    if (this.shiftHeld) this.combined = true
    if (this.shift.count > 0) this.cancelShift(false)
    if (event.key === 'Escape' && !event.repeat) {
      if (isTextField(event.target) || inDialog(event.target)) {
        this.escape.reset()
        return
      }
      if (this.escape.add(Date.now()) >= 2) {
        event.preventDefault()
        this.exit()
      }
    } else {
      this.escape.reset()
    }
  }

  /** @param {KeyboardEvent} event */
  keyup (event) {
    if (event.key !== 'Shift') return
    const alone = this.shiftHeld && !this.combined && !event.ctrlKey && !event.altKey && !event.metaKey
    this.shiftHeld = false
    if (!alone) {
      this.cancelShift(false)
      return
    }
    const now = Date.now()
    const count = this.shift.add(now)
    if (count >= 3) {
      this.exit()
      return
    }
    this.say(count === 1 ? this.texts.once : this.texts.twice)
    clearTimeout(this.shiftTimer)
    this.shiftTimer = setTimeout(() => this.cancelShift(true), this.shift.left(now))
  }

  /** @param {boolean} announce */
  cancelShift (announce) {
    const had = this.shift.count > 0
    this.shift.reset()
    clearTimeout(this.shiftTimer)
    if (announce && had) this.say(this.texts.cancelled)
  }

  /** @param {string} text */
  say (text) {
    if (!this.$status) return
    // Cleared first, so the same words are announced again.
    this.$status.textContent = ''
    requestAnimationFrame(() => { /** @type {Element} */ (this.$status).textContent = text })
  }

  // --- leaving -------------------------------------------------------------

  destination () {
    if (Lock.inShell()) return `${Lock.disguiseUrl()}?app=1`
    return navigator.onLine ? this.url : this.offlineUrl
  }

  exit () {
    // Hidden first: the class applies before the next paint.
    document.documentElement.classList.add('is-exiting')
    document.title = '\u200b'
    const destination = this.destination()
    for (const form of document.forms) form.reset()
    for (const $field of /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('input, textarea'))) {
      if ($field.type === 'checkbox' || $field.type === 'radio') $field.checked = false
      else if ($field.type !== 'hidden' && $field.type !== 'submit') $field.value = ''
    }
    // Also forgets the receipts; what has to survive the navigation is done
    // before it starts (see Outbox.forgetReceipts).
    Lock.lockNow()
    try {
      window.sessionStorage.clear()
    } catch {
      // Storage may be blocked; there is then nothing in it to clear.
    }
    window.location.replace(destination)
  }

  visibility () {
    if (document.visibilityState === 'hidden') {
      // Hidden because the app moves to another of its own pages
      // (app-navigation marks it): not leaving, so nothing locks.
      if (document.documentElement.dataset.moving === 'within') return
      if (Lock.inShell()) {
        // The installed disguise locks whenever it leaves the screen.
        this.exit()
        return
      }
      document.documentElement.classList.add('is-covered')
    } else {
      document.documentElement.classList.remove('is-covered')
    }
  }
}

// @ts-check
/**
 * The disguised install's set-up: the person chooses a disguise and an unlock
 * code; only a salted PBKDF2 hash of the code is kept, on this phone. Then
 * they open the disguise and install it from the browser. "Delete my code"
 * forgets the code and the disguise's notes, never the outbox.
 */
import { Lock } from '../../disguise/lock.js'

/**
 * The set-up form's fields, by name (_install-setup.html).
 * @typedef {{disguise: RadioNodeList, code: HTMLInputElement, again: HTMLInputElement, idle: HTMLSelectElement}} SetupFields
 */

export class InstallSetup {
  static moduleName = 'install-setup'

  /** @param {Rendered} $root */
  constructor ($root) {
    this.$root = $root
    this.$form = /** @type {HTMLFormElement & {elements: SetupFields}} */ ($root.querySelector('[data-form]'))
    this.$status = /** @type {HTMLElement} */ ($root.querySelector('[data-status]'))
    this.$ready = /** @type {HTMLElement} */ ($root.querySelector('[data-ready]'))
    this.text = $root.dataset
  }

  init () {
    const $nojs = /** @type {HTMLElement} */ (this.$root.querySelector('[data-nojs]'))
    $nojs.hidden = true
    if (!window.crypto || !window.crypto.subtle) {
      this.$status.textContent = this.text.i18nUnsupported
      return
    }
    this.$form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.save()
    })
    // Until now the disabled button kept the code from being submitted in the address.
    const $save = /** @type {HTMLButtonElement} */ (this.$form.querySelector('[data-save]'))
    $save.disabled = false
    this.$root.querySelector('[data-reset]')?.addEventListener('click', () => {
      Lock.reset()
      this.$ready.hidden = true
      this.$status.textContent = this.text.i18nReset
    })
    const lock = Lock.read()
    if (lock) this.showReady(lock.disguise)
  }

  /**
   * @param {keyof SetupFields} name
   * @param {string} [text]
   */
  error (name, text) {
    const $error = /** @type {HTMLElement} */ (this.$root.querySelector(`[data-error-for="${name}"]`))
    $error.textContent = text || ''
    $error.hidden = !text
    const $input = this.$form.elements[name]
    if ($input instanceof Element) {
      if (text) $input.setAttribute('aria-invalid', 'true')
      else $input.removeAttribute('aria-invalid')
    }
  }

  problems () {
    const disguise = this.$form.elements.disguise.value
    const code = this.$form.elements.code.value
    const again = this.$form.elements.again.value
    /** @type {{disguise?: string, code?: string, again?: string}} */
    const found = {}
    if (!disguise) found.disguise = this.text.i18nChoose
    if (disguise === 'calculator' && !/^[0-9]{4,12}$/.test(code)) found.code = this.text.i18nDigits
    else if ([...code].length < 4) found.code = this.text.i18nShort
    else if ([...code].length > 40) found.code = this.text.i18nLong
    if (!found.code && code !== again) found.again = this.text.i18nDifferent
    return found
  }

  async save () {
    const found = this.problems()
    for (const name of /** @type {const} */ (['disguise', 'code', 'again'])) this.error(name, found[name])
    const first = /** @type {const} */ (['disguise', 'code', 'again']).find((name) => found[name])
    if (first) {
      const $focus = first === 'disguise' ? /** @type {HTMLInputElement} */ (this.$form.querySelector('input[name="disguise"]')) : this.$form.elements[first]
      $focus.focus()
      return
    }
    this.$status.textContent = this.text.i18nSaving
    const disguise = this.$form.elements.disguise.value
    try {
      await Lock.set(this.$form.elements.code.value, disguise, Number(this.$form.elements.idle.value), this.$root.dataset.lang)
    } catch {
      // Storage blocked (site data switched off): nothing was kept.
      this.$status.textContent = this.text.i18nUnsupported
      return
    }
    // The code is not kept in the page either.
    this.$form.elements.code.value = ''
    this.$form.elements.again.value = ''
    this.$status.textContent = this.text.i18nSaved
    this.showReady(disguise)
  }

  /** @param {string} disguise */
  showReady (disguise) {
    this.$ready.hidden = false
    for (const $link of /** @type {NodeListOf<HTMLElement>} */ (this.$ready.querySelectorAll('[data-open]'))) {
      $link.hidden = $link.dataset.open !== disguise
    }
  }
}

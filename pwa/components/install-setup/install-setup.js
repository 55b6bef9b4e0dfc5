/**
 * The disguised install's set-up: the person chooses a disguise and an unlock
 * code; only a salted PBKDF2 hash of the code is kept, on this phone. Then
 * they open the disguise and install it from the browser. "Delete my code"
 * forgets the code and the disguise's notes, never the outbox.
 */
import { Lock } from '../../disguise/lock.js'

export class InstallSetup {
  static moduleName = 'install-setup'

  constructor ($root) {
    this.$root = $root
    this.$form = $root.querySelector('[data-form]')
    this.$status = $root.querySelector('[data-status]')
    this.$ready = $root.querySelector('[data-ready]')
    this.text = $root.dataset
  }

  init () {
    this.$root.querySelector('[data-nojs]').hidden = true
    if (!window.crypto || !window.crypto.subtle) {
      this.$status.textContent = this.text.i18nUnsupported
      return
    }
    this.$form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.save()
    })
    // Until now the disabled button kept the code from being submitted in the address.
    this.$form.querySelector('[data-save]').disabled = false
    this.$root.querySelector('[data-reset]').addEventListener('click', () => {
      Lock.reset()
      this.$ready.hidden = true
      this.$status.textContent = this.text.i18nReset
    })
    const lock = Lock.read()
    if (lock) this.showReady(lock.disguise)
  }

  error (name, text) {
    const $error = this.$root.querySelector(`[data-error-for="${name}"]`)
    $error.textContent = text || ''
    $error.hidden = !text
    const $input = this.$form.elements[name]
    if ($input && $input.setAttribute) {
      if (text) $input.setAttribute('aria-invalid', 'true')
      else $input.removeAttribute('aria-invalid')
    }
  }

  problems () {
    const disguise = this.$form.elements.disguise.value
    const code = this.$form.elements.code.value
    const again = this.$form.elements.again.value
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
    for (const name of ['disguise', 'code', 'again']) this.error(name, found[name])
    const first = ['disguise', 'code', 'again'].find((name) => found[name])
    if (first) {
      const $focus = first === 'disguise' ? this.$form.querySelector('input[name="disguise"]') : this.$form.elements[first]
      $focus.focus()
      return
    }
    this.$status.textContent = this.text.i18nSaving
    const disguise = this.$form.elements.disguise.value
    await Lock.set(this.$form.elements.code.value, disguise, Number(this.$form.elements.idle.value), this.$root.dataset.lang)
    // The code is not kept in the page either.
    this.$form.elements.code.value = ''
    this.$form.elements.again.value = ''
    this.$status.textContent = this.text.i18nSaved
    this.showReady(disguise)
  }

  showReady (disguise) {
    this.$ready.hidden = false
    for (const $link of this.$ready.querySelectorAll('[data-open]')) {
      $link.hidden = $link.dataset.open !== disguise
    }
  }
}

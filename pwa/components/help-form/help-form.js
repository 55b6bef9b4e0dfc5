// @ts-check
/**
 * The help form, enhanced: the server's rules checked as the person types
 * (messages next to the fields, in their language), a draft kept for the
 * tab's lifetime only, and on sending: sealed on the phone, put in the
 * outbox, and delivered now or as soon as a connection returns.
 */
import { Outbox } from '../../outbox.js'
import { seal } from './seal.js'
import { centreForPostcode, checkField, validate } from './validate.js'

const DRAFT_KEY = 'draft'

export class HelpForm {
  static moduleName = 'help-form'

  /** @param {Rendered<HTMLFormElement>} $root */
  constructor ($root) {
    this.$root = $root
    /** @type {import('./validate.js').Rules} */
    this.rules = JSON.parse($root.dataset.rules)
    /** @type {Record<string, string>} */
    this.messages = JSON.parse($root.dataset.messages)
    this.lang = $root.dataset.lang
    this.$summary = /** @type {HTMLElement} */ ($root.querySelector('[data-error-summary]'))
    this.centreChosen = false
  }

  init () {
    this.restoreDraft()
    this.$root.addEventListener('input', (event) => this.onInput(event))
    this.$root.addEventListener('change', (event) => this.onInput(event))
    this.$root.addEventListener('focusout', (event) => {
      const $field = /** @type {HTMLInputElement} */ (event.target)
      const name = $field.name
      if (name && this.rules.fields[name] && $field.value) this.showError(name)
    })
    this.$root.addEventListener('submit', (event) => {
      event.preventDefault()
      this.send().catch((error) => {
        console.error('help form', error)
        this.showSummary(this.$root.dataset.i18nUnsealable)
      })
    })
  }

  /** The form's current values, as the server would receive them. */
  values () {
    /** @type {Record<string, string>} */
    const values = {}
    for (const [name, value] of new FormData(this.$root)) values[name] = String(value)
    return values
  }

  /** @param {Event} event */
  onInput (event) {
    const $field = /** @type {HTMLInputElement} */ (event.target)
    const name = $field.name
    if (!name) return
    if (name === 'centre') this.centreChosen = true
    if (name === 'postcode' && !this.centreChosen) this.preselectCentre($field.value.trim())
    // Only clear messages while typing; new ones appear on leaving the field or sending.
    if (!checkField(this.rules, this.values(), name)) this.clearError(name)
    if (name === 'channel') this.clearError('contact')
    this.saveDraft()
  }

  /** @param {string} postcode */
  preselectCentre (postcode) {
    const centre = centreForPostcode(this.rules, postcode)
    if (!centre) return
    /** @type {HTMLInputElement | null} */
    const $radio = this.$root.querySelector(`input[name="centre"][value="${centre}"]`)
    if ($radio) $radio.checked = true
    this.clearError('centre')
  }

  /**
   * @param {string} name
   * @returns {HTMLElement | null}
   */
  errorElement (name) {
    return this.$root.querySelector(`[data-error-for="${name}"]`)
  }

  /**
   * @param {string} code
   * @param {string} name
   */
  messageFor (code, name) {
    /** @type {{kind?: string, max?: number}} */
    const rule = this.rules.fields[name] || {}
    return (this.messages[code] || code).replace('{max}', String(rule.max ?? ''))
  }

  /**
   * @param {string} name
   * @param {string | null} [code]
   */
  showError (name, code = checkField(this.rules, this.values(), name)) {
    if (!code) return this.clearError(name)
    const $error = this.errorElement(name)
    if (!$error) return
    $error.textContent = this.messageFor(code, name)
    $error.hidden = false
    for (const $input of this.$root.querySelectorAll(`[name="${name}"]`)) {
      $input.setAttribute('aria-invalid', 'true')
    }
  }

  /** @param {string} name */
  clearError (name) {
    const $error = this.errorElement(name)
    if (!$error || $error.hidden) return
    $error.hidden = true
    $error.textContent = ''
    for (const $input of this.$root.querySelectorAll(`[name="${name}"]`)) {
      $input.removeAttribute('aria-invalid')
    }
  }

  /** @param {string} [text] */
  showSummary (text) {
    this.$summary.hidden = false
    if (text) /** @type {HTMLElement} */ (this.$summary.querySelector('p')).textContent = text
    this.$summary.scrollIntoView({ block: 'center' })
  }

  async send () {
    const { clean, errors } = validate(this.rules, this.values())
    for (const name of Object.keys(this.rules.fields)) {
      if (errors[name]) this.showError(name, errors[name])
      else this.clearError(name)
    }
    const first = Object.keys(errors)[0]
    if (first) {
      this.$summary.hidden = false
      /** @type {HTMLElement | null} */
      const $input = this.$root.querySelector(`[name="${first}"]`)
      if ($input) $input.focus()
      return
    }
    this.$summary.hidden = true
    const centre = clean.centre
    const plaintext = new TextEncoder().encode(JSON.stringify({
      v: 1, lang: this.lang, writtenAt: new Date().toISOString(), fields: clean
    }))
    const inboxKey = await (await fetch('/api/inbox-key')).json()
    const envelope = await seal(inboxKey, plaintext, centre, this.lang)
    // The outbox registers the sync and tries at once by itself.
    const { sent } = await Outbox.enqueue({ centre, lang: this.lang, envelope })
    // Sealed and stored: the typed text may now go.
    this.$root.reset()
    this.clearDraft()
    this.centreChosen = false
    document.dispatchEvent(new CustomEvent('outbox:queued'))
    await sent
  }

  saveDraft () {
    try {
      window.sessionStorage.setItem(DRAFT_KEY, JSON.stringify(this.values()))
    } catch {
      // Storage may be full or blocked; the form still works.
    }
  }

  restoreDraft () {
    let draft
    try {
      draft = JSON.parse(window.sessionStorage.getItem(DRAFT_KEY) || 'null')
    } catch {
      draft = null
    }
    if (!draft) return
    for (const [name, value] of Object.entries(draft)) {
      for (const $input of /** @type {NodeListOf<HTMLInputElement>} */ (this.$root.querySelectorAll(`[name="${CSS.escape(name)}"]`))) {
        if ($input.type === 'radio' || $input.type === 'checkbox') $input.checked = $input.value === value
        else $input.value = value
      }
    }
    if (draft.centre) this.centreChosen = true
  }

  clearDraft () {
    try {
      window.sessionStorage.removeItem(DRAFT_KEY)
    } catch {
      // Nothing stored, nothing to clear.
    }
  }
}

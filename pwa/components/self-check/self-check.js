// @ts-check
/**
 * The seven-question self-check, answered on the phone: the result appears
 * at once, online or offline. Answers live only in the form's radio buttons;
 * nothing is written to storage, a cookie or the address.
 */
export class SelfCheck {
  static moduleName = 'self-check'

  /** @param {HTMLFormElement} $root */
  constructor ($root) {
    this.$root = $root
    this.threshold = Number($root.dataset.threshold || 2)
    /** @type {NodeListOf<HTMLElement>} */
    this.$results = document.querySelectorAll('[data-result]')
  }

  init () {
    this.$root.addEventListener('submit', (event) => {
      event.preventDefault()
      this.showResult()
    })
    this.$root.addEventListener('reset', () => this.hideResults())
    // Browsers may restore radio buttons after Back; start clean each time.
    window.addEventListener('pageshow', () => this.$root.reset())
  }

  /** @returns {number} how many questions were answered yes */
  countYes () {
    return this.$root.querySelectorAll('input[type="radio"][value="yes"]:checked').length
  }

  showResult () {
    const id = this.countYes() >= this.threshold ? 'result-likely' : 'result-unlikely'
    for (const $result of this.$results) {
      $result.hidden = $result.dataset.result !== id
    }
    const $shown = document.getElementById(id)
    if ($shown) {
      $shown.focus()
      $shown.scrollIntoView({ block: 'start' })
    }
  }

  hideResults () {
    for (const $result of this.$results) $result.hidden = true
  }
}

// @ts-check
/**
 * A working calculator. Typing the unlock code and then "=" opens the app;
 * any other number behaves as a calculator would: "=" just shows it.
 */
import { Lock } from './lock.js'
import { openApp, startShell } from './shell.js'

const MAX_DIGITS = 15

/** @param {number} value */
function format (value) {
  if (!Number.isFinite(value)) return 'Error'
  const rounded = Number.parseFloat(value.toPrecision(12))
  return String(rounded)
}

/**
 * @param {number} left
 * @param {string} operator
 * @param {number} right
 */
function apply (left, operator, right) {
  switch (operator) {
    case '+': return left + right
    case '-': return left - right
    case '*': return left * right
    case '/': return right === 0 ? Number.NaN : left / right
    default: return right
  }
}

export class Calculator {
  /** @param {HTMLElement} $display */
  constructor ($display) {
    this.$display = $display
    this.clear()
  }

  clear () {
    /** @type {string} */
    this.entry = '0'
    /** @type {number | null} */
    this.stored = null
    /** @type {string | null} */
    this.operator = null
    // The next digit starts a new entry.
    /** @type {boolean} */
    this.fresh = true
    // Exactly what was typed since the last operator: a code candidate.
    /** @type {string} */
    this.typed = ''
    this.show(this.entry)
  }

  /** @param {string} text */
  show (text) {
    this.$display.textContent = text
  }

  /** @param {string} key */
  press (key) {
    if (/^[0-9]$/.test(key)) return this.digit(key)
    if (key === '.') return this.point()
    if (['+', '-', '*', '/'].includes(key)) return this.operate(key)
    if (key === '=' || key === 'Enter') return this.equals()
    if (key === 'C' || key === 'Escape') return this.clear()
    if (key === 'Backspace') return this.backspace()
    if (key === '%') return this.percent()
  }

  /** @param {string} key */
  digit (key) {
    if (this.fresh) {
      this.entry = key
      this.typed = key
      this.fresh = false
    } else if (this.entry.replace(/[-.]/g, '').length < MAX_DIGITS) {
      this.entry = this.entry === '0' ? key : this.entry + key
      this.typed += key
    }
    this.show(this.entry)
  }

  point () {
    if (this.fresh) {
      this.entry = '0.'
      this.typed = '.'
      this.fresh = false
    } else if (!this.entry.includes('.')) {
      this.entry += '.'
      this.typed += '.'
    }
    this.show(this.entry)
  }

  backspace () {
    if (this.fresh) return
    this.entry = this.entry.length > 1 ? this.entry.slice(0, -1) : '0'
    this.typed = this.typed.slice(0, -1)
    this.show(this.entry)
  }

  percent () {
    this.entry = format(Number(this.entry) / 100)
    this.typed = ''
    this.show(this.entry)
  }

  /** @param {string} operator */
  operate (operator) {
    if (this.operator && !this.fresh) {
      // An operator is only ever set after a number is stored.
      this.stored = apply(/** @type {number} */ (this.stored), this.operator, Number(this.entry))
      this.show(format(this.stored))
    } else if (this.stored === null || !this.operator) {
      this.stored = Number(this.entry)
    }
    this.operator = operator
    this.fresh = true
    this.typed = ''
  }

  equals () {
    const candidate = this.operator ? '' : this.typed
    if (this.operator) {
      const result = apply(/** @type {number} */ (this.stored), this.operator, Number(this.entry))
      this.entry = format(result)
      this.stored = null
      this.operator = null
    } else {
      this.entry = format(Number(this.entry))
    }
    this.show(this.entry)
    this.fresh = true
    this.typed = ''
    // The display answers at once, like any calculator; the code is checked after.
    if (candidate && Lock.read()) {
      Lock.matches(candidate).then((right) => { if (right) openApp() })
    }
  }
}

startShell()
/** @type {HTMLElement | null} */
const $display = document.querySelector('[data-display]')
if ($display) {
  const calculator = new Calculator($display)
  for (const $key of /** @type {NodeListOf<Rendered>} */ (document.querySelectorAll('[data-key]'))) {
    $key.addEventListener('click', () => calculator.press($key.dataset.key))
  }
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return
    // Enter on a focused key is that key's click, not "=".
    if (event.target instanceof HTMLButtonElement && (event.key === 'Enter' || event.key === ' ')) return
    const key = event.key === 'x' ? '*' : event.key
    if (/^[0-9.+\-*/=%]$/.test(key) || ['Enter', 'Backspace', 'Escape'].includes(key)) {
      event.preventDefault()
      calculator.press(key)
    }
  })
}

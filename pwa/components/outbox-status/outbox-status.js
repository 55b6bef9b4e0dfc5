// @ts-check
/**
 * Shows what waits in the outbox and what was delivered, on every page, and
 * delivers: on page load, when the connection returns, when a retry is due,
 * and when the person taps "Send now". The pages' only start of a delivery
 * besides Outbox.enqueue (see the list at the top of outbox.js).
 */
import { OUTBOX_CHANNEL, Outbox } from '../../outbox.js'

export class OutboxStatus {
  static moduleName = 'outbox-status'

  /** @param {Rendered} $root */
  constructor ($root) {
    this.$root = $root
    this.$items = /** @type {HTMLElement} */ ($root.querySelector('.outbox-status__items'))
    this.$call = /** @type {HTMLElement} */ ($root.querySelector('.outbox-status__call'))
    this.text = $root.dataset
    /** @type {number | undefined} */
    this.timer = undefined
  }

  init () {
    if (!('indexedDB' in window)) return
    this.addCalls()
    window.addEventListener('online', () => this.flush())
    // After sending from the form, show the person where their message is.
    document.addEventListener('outbox:queued', () => this.render().then(() => {
      this.$root.focus()
      this.$root.scrollIntoView({ block: 'start' })
    }))
    if (typeof BroadcastChannel !== 'undefined') {
      this.channel = new BroadcastChannel(OUTBOX_CHANNEL)
      this.channel.addEventListener('message', () => this.render())
    }
    this.render().then(() => this.flush())
  }

  /** @param {{force?: boolean, dueOnly?: boolean}} [options] - as Outbox.flush's */
  async flush (options = {}) {
    try {
      await Outbox.flush(options)
    } finally {
      await this.render()
    }
  }

  /** The centres and the police, one tap away when a message is refused. */
  addCalls () {
    let calls
    try {
      calls = JSON.parse(this.text.i18nCalls || '[]')
    } catch {
      calls = []
    }
    for (const [label, href, number] of calls) {
      const $link = document.createElement('a')
      $link.className = 'button button--call'
      $link.href = href
      const $number = document.createElement('span')
      $number.dir = 'ltr'
      $number.textContent = number
      $link.append(`${label} `, $number)
      this.$call.append($link)
    }
  }

  async render () {
    const [items, receipts] = await Promise.all([Outbox.items(), Outbox.receipts()])
    this.$items.replaceChildren(
      ...items.map((item) => this.itemView(item)),
      ...receipts.map((receipt) => this.receiptView(receipt))
    )
    this.$call.hidden = !items.some((item) => item.failed)
    this.$root.hidden = items.length === 0 && receipts.length === 0
    this.scheduleRetry(items)
  }

  /**
   * Wakes up for the earliest retry, so a page left open delivers by itself.
   * @param {OutboxItem[]} items
   */
  scheduleRetry (items) {
    clearTimeout(this.timer)
    const due = items.filter((item) => !item.failed).map((item) => item.nextAttempt)
    if (due.length === 0) return
    const wait = Math.max(500, Math.min(...due) - Date.now())
    this.timer = setTimeout(() => this.flush({ dueOnly: true }), wait)
  }

  /** @param {OutboxItem} item */
  itemView (item) {
    // Sealed to a key the server no longer holds: sending it again cannot
    // help, and its text is gone from the phone, so it has to be written again.
    const undeliverable = Outbox.undeliverable(item)
    let state = 'waiting'
    let text = this.text.i18nWaiting
    if (undeliverable) {
      state = 'undeliverable'
      text = this.text.i18nUndeliverable
    } else if (item.failed) {
      state = 'refused'
      text = this.text.i18nRefused.replace('{reason}', item.failed.message || String(item.failed.status))
    }
    const $item = this.box('outbox-status__item', state)
    $item.append(this.paragraph(text))
    if (item.failed) $item.append(this.paragraph(this.text.i18nRefusedCall))
    const $actions = document.createElement('p')
    $actions.className = 'outbox-status__actions'
    if (undeliverable) {
      const $write = document.createElement('a')
      $write.className = 'button button--primary'
      $write.href = this.text.i18nWriteAgainUrl
      $write.textContent = this.text.i18nWriteAgain
      $actions.append($write)
    } else {
      $actions.append(this.button(item.failed ? this.text.i18nTryAgain : this.text.i18nSendNow, async ($button) => {
        $button.disabled = true
        $button.textContent = this.text.i18nSending
        // Only this field: an exit meanwhile may have made the item quiet.
        if (item.failed) await Outbox.update(item.key, { failed: null })
        await this.flush({ force: true })
      }))
    }
    $actions.append(
      this.button(this.text.i18nDelete, async ($button) => {
        // Two taps, so a stray touch never throws a message away.
        if ($button.dataset.armed !== 'true') {
          $button.dataset.armed = 'true'
          $button.textContent = this.text.i18nConfirmDelete
          return
        }
        await Outbox.remove(item.key)
        await this.render()
      }, 'button--secondary')
    )
    $item.append($actions)
    return $item
  }

  /** @param {{reference: string, contactByText: string}} receipt */
  receiptView (receipt) {
    const $receipt = this.box('outbox-status__receipt', 'sent')
    $receipt.append(this.paragraph(this.text.i18nSent.replace('{reference}', receipt.reference)))
    if (receipt.contactByText) {
      $receipt.append(this.paragraph(this.text.i18nContactBy.replace('{date}', receipt.contactByText), 'outbox-status__date'))
    }
    const $actions = document.createElement('p')
    $actions.append(this.button(this.text.i18nOk, async () => {
      await Outbox.dismissReceipt(receipt.reference)
      await this.render()
    }, 'button--secondary'))
    $receipt.append($actions)
    return $receipt
  }

  /**
   * @param {string} className
   * @param {string} state
   */
  box (className, state) {
    const $box = document.createElement('div')
    $box.className = className
    $box.dataset.state = state
    return $box
  }

  /**
   * @param {string} text
   * @param {string} [className]
   */
  paragraph (text, className) {
    const $p = document.createElement('p')
    $p.textContent = text
    if (className) $p.className = className
    return $p
  }

  /**
   * @param {string} label
   * @param {($button: HTMLButtonElement) => unknown} action
   */
  button (label, action, variant = 'button--primary') {
    const $button = document.createElement('button')
    $button.type = 'button'
    $button.className = `button ${variant}`
    $button.textContent = label
    $button.addEventListener('click', () => action($button))
    return $button
  }
}

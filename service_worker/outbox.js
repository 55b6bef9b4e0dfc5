// The outbox: sealed help requests waiting on the phone until the server has
// acknowledged them. Shared by the service worker (this file is part of
// /sw.js) and the pages (served as the module /static/outbox.js, which adds
// `export { Outbox, OUTBOX_DB, OUTBOX_CHANNEL, SYNC_TAG, FLUSH_LOCK }`), so
// both deliver the same way.
//
// Like Workbox's background-sync Queue, the outbox owns everything about
// itself: its IndexedDB database, its channel, its sync tag and lock, the
// sync registered when an item is queued, and the worker's `sync` listener
// and start-up delivery (Outbox.listen). Callers only enqueue.
//
// Each item holds only what routing needs in clear (centre, language) and the
// sealed envelope: nothing the person typed is readable in storage.
//
// A receipt (reference and contact-by date) tells whoever holds the phone
// that a message went to a centre. It is kept until the person hides it, and
// the quick exit and the disguise lock forget every receipt (forgetReceipts);
// the items still waiting stay and are delivered, but leave no receipt.
//
// Every place that starts a delivery (each once; the lock lets one run at a time):
// - Outbox.enqueue, right after a request is queued (the help form);
// - Outbox.listen, in the worker: the `sync` event and each worker start
//   (browsers without Background Sync);
// - the outbox-status component, on every page: the page load, `online`,
//   the retry timer (dueOnly) and "Send now" / "Try again" (force).

// Shared with the other worker scripts and, as exports, with the pages. Uses
// nothing from the other worker scripts: pages load this file alone.
/* exported Outbox, OUTBOX_DB, OUTBOX_CHANNEL, SYNC_TAG, FLUSH_LOCK */

const OUTBOX_DB = 'app-outbox'
const OUTBOX_VERSION = 1
// Open pages listen here to show what changed; named like the database.
const OUTBOX_CHANNEL = OUTBOX_DB
const FLUSH_LOCK = OUTBOX_DB + '-flush'
const SYNC_TAG = 'outbox'
// Sent by a page's exit to the worker, which outlives the page.
const FORGET_MESSAGE = 'forget-receipts'
// Retries wait 3 s, 6 s, 12 s … up to 10 minutes, with jitter.
const RETRY_BASE_MS = 3000
// How long one delivery may take before it counts as failed.
const DELIVER_TIMEOUT_MS = 15000
const RETRY_MAX_MS = 10 * 60 * 1000
// Pages only: set by an exit until its receipts are gone for sure. The name
// and the value say nothing about what was sent, or that anything was.
const FORGET_KEY = 'app-tidy'
// The server's answer for an envelope sealed to an inbox key it does not
// hold: the plaintext is gone, so the item can never be delivered.
const UNDELIVERABLE = 'unknown_key'

/**
 * A sealed request on its way; only its routing is in clear.
 * @typedef {object} OutboxItem
 * @property {string} key - its Idempotency-Key: a second delivery is a replay
 * @property {string} centre
 * @property {string} lang
 * @property {object} envelope
 * @property {number} createdAt
 * @property {number} attempts
 * @property {number} nextAttempt - when the retry timer may try it again
 * @property {OutboxFailure | null} failed - why the server refused it
 * @property {boolean} [quiet] - delivered without a receipt (an exit came first)
 */

/**
 * @typedef {object} OutboxFailure
 * @property {number} status
 * @property {string} message
 * @property {string} [error]
 */

class Outbox {
  /** @returns {Promise<IDBDatabase>} */
  static open () {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(OUTBOX_DB, OUTBOX_VERSION)
      request.onupgradeneeded = () => {
        const db = request.result
        if (!db.objectStoreNames.contains('items')) db.createObjectStore('items', { keyPath: 'key' })
        if (!db.objectStoreNames.contains('receipts')) db.createObjectStore('receipts', { keyPath: 'reference' })
      }
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
  }

  /**
   * One transaction over one or more stores; resolves once it has committed.
   * @template T
   * @param {string | string[]} storeNames
   * @param {IDBTransactionMode} mode
   * @param {(transaction: IDBTransaction) => T | Promise<T>} work
   * @returns {Promise<T>}
   */
  static async transact (storeNames, mode, work) {
    const db = await Outbox.open()
    try {
      return await new Promise((resolve, reject) => {
        const transaction = db.transaction(storeNames, mode)
        /** @type {T} */
        let result
        Promise.resolve(work(transaction)).then((value) => { result = value }, reject)
        transaction.oncomplete = () => resolve(result)
        transaction.onerror = () => reject(transaction.error)
        transaction.onabort = () => reject(transaction.error)
      })
    } finally {
      db.close()
    }
  }

  /**
   * @template T
   * @param {string} storeName
   * @param {IDBTransactionMode} mode
   * @param {(store: IDBObjectStore) => T | Promise<T>} work
   * @returns {Promise<T>}
   */
  static run (storeName, mode, work) {
    return Outbox.transact(storeName, mode, (transaction) => work(transaction.objectStore(storeName)))
  }

  /**
   * @template T
   * @param {IDBRequest<T>} idbRequest
   * @returns {Promise<T>}
   */
  static request (idbRequest) {
    return new Promise((resolve, reject) => {
      idbRequest.onsuccess = () => resolve(idbRequest.result)
      idbRequest.onerror = () => reject(idbRequest.error)
    })
  }

  /** @returns {Promise<OutboxItem[]>} */
  static items () {
    return Outbox.run('items', 'readonly', (store) => Outbox.request(store.getAll()))
  }

  /**
   * The receipts to show; never one that an exit or a lock asked to forget.
   * @returns {Promise<Array<{reference: string, contactBy: string, contactByText: string, lang: string, sentAt: number}>>}
   */
  static async receipts () {
    await Outbox.finishForgetting()
    return Outbox.run('receipts', 'readonly', (store) => Outbox.request(store.getAll()))
  }

  /** @param {OutboxItem} item */
  static put (item) {
    return Outbox.run('items', 'readwrite', (store) => Outbox.request(store.put(item)))
  }

  /**
   * Changes some fields of a stored item, read again in the same transaction:
   * what changed meanwhile (an exit's `quiet`, a deletion) is kept.
   * @param {string} key
   * @param {Partial<OutboxItem>} changes
   * @returns {Promise<void>}
   */
  static update (key, changes) {
    return Outbox.run('items', 'readwrite', (store) => new Promise((resolve, reject) => {
      const get = store.get(key)
      get.onsuccess = () => {
        if (get.result) store.put({ ...get.result, ...changes })
        resolve()
      }
      get.onerror = () => reject(get.error)
    }))
  }

  /**
   * Throws a waiting item away (the person asked to, twice).
   * @param {string} key
   */
  static async remove (key) {
    await Outbox.run('items', 'readwrite', (store) => Outbox.request(store.delete(key)))
    Outbox.announce()
  }

  /** @param {string} reference */
  static async dismissReceipt (reference) {
    await Outbox.run('receipts', 'readwrite', (store) => Outbox.request(store.delete(reference)))
    Outbox.announce()
  }

  /**
   * The quick exit and the disguise lock: forget every receipt, so that
   * whoever opens the app next learns nothing of a message sent. Items
   * still waiting are kept and delivered, quietly: whoever holds the phone
   * by then may not be the person who wrote.
   *
   * The exit navigates away in the same task, and a page that unloads may
   * have its transactions aborted. So, before anything asynchronous: a mark
   * in localStorage, which every page start honours before it shows a
   * receipt, and a message to the service worker, which outlives the page
   * (both synchronous); then the page's own attempt, which takes the mark
   * away once the receipts are gone.
   * @returns {Promise<void>}
   */
  static forgetReceipts () {
    try {
      localStorage.setItem(FORGET_KEY, '1')
    } catch {
      // Storage blocked: the worker and the attempt below remain.
    }
    try {
      navigator.serviceWorker?.controller?.postMessage({ type: FORGET_MESSAGE })
    } catch {
      // No worker controls the page: the mark and the attempt below remain.
    }
    return Outbox.finishForgetting()
  }

  /**
   * Completes a forgetting asked for by an exit that may not have finished it.
   * @returns {Promise<void>}
   */
  static async finishForgetting () {
    // The worker has no localStorage: it forgets on the exit's message instead.
    if (typeof localStorage === 'undefined') return
    try {
      if (localStorage.getItem(FORGET_KEY) === null) return
    } catch {
      return
    }
    await Outbox.clearReceipts()
    try {
      localStorage.removeItem(FORGET_KEY)
    } catch {
      // Then the next page start clears again: harmless.
    }
  }

  /**
   * Deletes every receipt and marks every waiting item quiet (delivered
   * without a receipt), in one transaction. Used by the pages and the worker.
   * @returns {Promise<void>}
   */
  static async clearReceipts () {
    await Outbox.transact(['items', 'receipts'], 'readwrite', (transaction) => {
      transaction.objectStore('receipts').clear()
      const cursor = transaction.objectStore('items').openCursor()
      cursor.onsuccess = () => {
        const current = cursor.result
        if (!current) return
        if (!current.value.quiet) current.update({ ...current.value, quiet: true })
        current.continue()
      }
    })
    Outbox.announce()
  }

  /**
   * Refused for good: sealed to a key the server does not hold.
   * @param {{failed: ?{status: number, message: string, error?: string}}} item
   * @returns {boolean}
   */
  static undeliverable (item) {
    return Boolean(item.failed && item.failed.error === UNDELIVERABLE)
  }

  /**
   * Queues a sealed request and asks for its delivery: stored (its key makes
   * every later delivery of it a replay), announced, a Background Sync
   * registered where the browser has one, and one try at once.
   *
   * Resolves as soon as the item is stored, so that the caller can let the
   * typed text go without waiting for the network; `sent` is that first try.
   * @param {{centre: string, lang: string, envelope: object}} request
   * @returns {Promise<{item: object, sent: Promise<{sent: number, retry: number, refused: number}>}>}
   */
  static async enqueue ({ centre, lang, envelope }) {
    const item = {
      key: crypto.randomUUID(),
      centre,
      lang,
      envelope,
      createdAt: Date.now(),
      attempts: 0,
      nextAttempt: 0,
      failed: null
    }
    await Outbox.put(item)
    Outbox.announce()
    const sent = Outbox.registerSync().then(() => Outbox.flush())
    return { item, sent }
  }

  /** Asks the browser to wake the worker with SYNC_TAG once a connection returns. */
  static async registerSync () {
    try {
      const inWorker = typeof ServiceWorkerGlobalScope !== 'undefined' && self instanceof ServiceWorkerGlobalScope
      // getRegistration, not `ready`: `ready` would wait for ever on a page
      // that no worker controls, and the try at once with it.
      const registration = inWorker ? self.registration : await navigator.serviceWorker?.getRegistration()
      await registration?.sync?.register(SYNC_TAG)
    } catch {
      // No Background Sync here: the online event, page loads and the
      // worker's start deliver instead.
    }
  }

  /**
   * The worker's part, called once by sw.js: deliver on the sync the browser
   * fires when a connection returns, forget receipts when a page's exit asks,
   * and deliver what waits every time the worker starts (browsers without
   * Background Sync; it starts for any page load or navigation).
   * @param {WorkerGlobalScope} scope - the service worker's (service_worker/scope.d.ts)
   */
  static listen (scope) {
    scope.addEventListener('sync', (event) => {
      if (event.tag !== SYNC_TAG) return
      event.waitUntil(Outbox.flush().then(({ retry }) => {
        // A failure tells the browser to try this sync again later.
        if (retry) throw new Error('outbox: still waiting')
      }))
    })
    scope.addEventListener('message', (event) => {
      // The page that sent it may already be gone, so the worker, which
      // outlives it, does the forgetting too.
      if (event.data?.type === FORGET_MESSAGE) event.waitUntil(Outbox.clearReceipts())
    })
    Outbox.flush().catch(() => {})
  }

  /** Lets every open page know that the outbox changed. */
  static announce () {
    if (typeof BroadcastChannel === 'undefined') return
    const channel = new BroadcastChannel(OUTBOX_CHANNEL)
    channel.postMessage({ type: 'outbox-changed' })
    channel.close()
  }

  /** @param {number} attempts */
  static retryDelay (attempts) {
    const delay = Math.min(RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1), RETRY_MAX_MS)
    return delay / 2 + Math.random() * delay / 2
  }

  /**
   * Sends what waits. Only one flush runs at a time across the pages and the
   * worker; a second delivery of the same item would be a harmless replay.
   * Every trigger that suggests a connection (a page load, `online`, a sync,
   * the worker starting, "Send now") tries at once; only the retry timer
   * keeps to the back-off (dueOnly).
   * @param {{force?: boolean, dueOnly?: boolean}} options - force: also items refused before
   * @returns {Promise<{sent: number, retry: number, refused: number}>}
   */
  static async flush (options = {}) {
    const locks = typeof navigator !== 'undefined' && navigator.locks
    if (locks) return locks.request(FLUSH_LOCK, () => Outbox.flushNow(options))
    return Outbox.flushNow(options)
  }

  static async flushNow ({ force = false, dueOnly = false } = {}) {
    const counts = { sent: 0, retry: 0, refused: 0 }
    for (const item of await Outbox.items()) {
      if (Outbox.undeliverable(item) || (!force && item.failed)) {
        counts.refused += 1
      } else if (dueOnly && item.nextAttempt > Date.now()) {
        counts.retry += 1
      } else {
        counts[await Outbox.deliver(item)] += 1
      }
    }
    if (counts.sent || counts.retry || counts.refused) Outbox.announce()
    return counts
  }

  /**
   * One attempt.
   * @param {OutboxItem} item
   * @returns {Promise<'sent' | 'retry' | 'refused'>}
   */
  static async deliver (item) {
    let response
    try {
      response = await fetch('/api/requests', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': item.key },
        body: JSON.stringify({ centre: item.centre, lang: item.lang, envelope: item.envelope }),
        credentials: 'omit',
        cache: 'no-store',
        // A request that hangs on a bad network would hold the flush lock and
        // stop every later delivery; given up, it is retried (a replay at worst).
        signal: typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(DELIVER_TIMEOUT_MS) : undefined
      })
    } catch {
      await Outbox.later(item, null)
      return 'retry'
    }
    if (response.status === 200 || response.status === 201) {
      const answer = await response.json()
      // The item is read again in the transaction that writes the receipt: an
      // exit while it was on its way has made it quiet (and a deletion gone),
      // and then no receipt is kept.
      await Outbox.transact(['items', 'receipts'], 'readwrite', (transaction) => {
        const items = transaction.objectStore('items')
        const get = items.get(item.key)
        get.onsuccess = () => {
          if (get.result && !get.result.quiet) {
            transaction.objectStore('receipts').put({
              reference: answer.reference,
              contactBy: answer.contact_by,
              contactByText: answer.contact_by_text,
              lang: item.lang,
              sentAt: Date.now()
            })
          }
          items.delete(item.key)
        }
      })
      return 'sent'
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      const retryAfter = Number(response.headers.get('Retry-After'))
      await Outbox.later(item, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null)
      return 'retry'
    }
    // Refused for good (a 4xx): keep it, say so, and let the person choose.
    /** @type {{message?: unknown, error?: unknown}} */
    let body = {}
    try {
      body = (await response.json()) || {}
    } catch {
      // Not JSON: refused without a reason.
    }
    /** @type {OutboxFailure} */
    const failed = { status: response.status, message: String(body.message || '') }
    if (body.error === UNDELIVERABLE) failed.error = UNDELIVERABLE
    await Outbox.update(item.key, { failed, attempts: item.attempts + 1 })
    return 'refused'
  }

  /**
   * @param {OutboxItem} item
   * @param {number | null} delay - milliseconds; null: the back-off's
   */
  static async later (item, delay) {
    const attempts = item.attempts + 1
    const nextAttempt = Date.now() + (delay ?? Outbox.retryDelay(attempts))
    await Outbox.update(item.key, { attempts, nextAttempt })
  }
}

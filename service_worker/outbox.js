// The outbox: sealed help requests waiting on the phone until the server has
// acknowledged them. Shared by the service worker (this file is part of
// /sw.js) and the pages (served as the module /static/outbox.js, which adds
// `export { Outbox }`), so both deliver the same way.
//
// Each item holds only what routing needs in clear (centre, language) and the
// sealed envelope: nothing the person typed is readable in storage.

const OUTBOX_DB = 'app-outbox'
const OUTBOX_VERSION = 1
const FLUSH_LOCK = 'app-outbox-flush'
const SYNC_TAG = 'outbox'
// Retries wait 3 s, 6 s, 12 s … up to 10 minutes, with jitter.
const RETRY_BASE_MS = 3000
const RETRY_MAX_MS = 10 * 60 * 1000

class Outbox {
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

  static async run (storeName, mode, work) {
    const db = await Outbox.open()
    try {
      return await new Promise((resolve, reject) => {
        const transaction = db.transaction(storeName, mode)
        const store = transaction.objectStore(storeName)
        let result
        Promise.resolve(work(store)).then((value) => { result = value }, reject)
        transaction.oncomplete = () => resolve(result)
        transaction.onerror = () => reject(transaction.error)
        transaction.onabort = () => reject(transaction.error)
      })
    } finally {
      db.close()
    }
  }

  static request (idbRequest) {
    return new Promise((resolve, reject) => {
      idbRequest.onsuccess = () => resolve(idbRequest.result)
      idbRequest.onerror = () => reject(idbRequest.error)
    })
  }

  static items () {
    return Outbox.run('items', 'readonly', (store) => Outbox.request(store.getAll()))
  }

  static receipts () {
    return Outbox.run('receipts', 'readonly', (store) => Outbox.request(store.getAll()))
  }

  static put (item) {
    return Outbox.run('items', 'readwrite', (store) => Outbox.request(store.put(item)))
  }

  static remove (key) {
    return Outbox.run('items', 'readwrite', (store) => Outbox.request(store.delete(key)))
  }

  static dismissReceipt (reference) {
    return Outbox.run('receipts', 'readwrite', (store) => Outbox.request(store.delete(reference)))
  }

  /** Adds a sealed request; the key makes every later delivery of it a replay. */
  static async add ({ centre, lang, envelope }) {
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
    return item
  }

  /** Lets every open page know that the outbox changed. */
  static announce () {
    if (typeof BroadcastChannel === 'undefined') return
    const channel = new BroadcastChannel(OUTBOX_DB)
    channel.postMessage({ type: 'outbox-changed' })
    channel.close()
  }

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
      if (!force && item.failed) {
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

  /** One attempt; returns 'sent', 'retry' or 'refused'. */
  static async deliver (item) {
    let response
    try {
      response = await fetch('/api/requests', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': item.key },
        body: JSON.stringify({ centre: item.centre, lang: item.lang, envelope: item.envelope }),
        credentials: 'omit',
        cache: 'no-store'
      })
    } catch (error) {
      await Outbox.later(item, null)
      return 'retry'
    }
    if (response.status === 200 || response.status === 201) {
      const receipt = await response.json()
      await Outbox.run('receipts', 'readwrite', (store) => Outbox.request(store.put({
        reference: receipt.reference,
        contactBy: receipt.contact_by,
        contactByText: receipt.contact_by_text,
        lang: item.lang,
        sentAt: Date.now()
      })))
      await Outbox.remove(item.key)
      return 'sent'
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      const retryAfter = Number(response.headers.get('Retry-After'))
      await Outbox.later(item, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null)
      return 'retry'
    }
    // Refused for good (a 4xx): keep it, say so, and let the person choose.
    let message = ''
    try {
      message = (await response.json()).message || ''
    } catch (error) {
      message = ''
    }
    item.failed = { status: response.status, message }
    item.attempts += 1
    await Outbox.put(item)
    return 'refused'
  }

  static async later (item, delay) {
    item.attempts += 1
    item.nextAttempt = Date.now() + (delay ?? Outbox.retryDelay(item.attempts))
    await Outbox.put(item)
  }
}

// @ts-check
/**
 * The disguise's lock: which disguise the person chose, and a salted PBKDF2
 * hash of their unlock code, kept only on this phone (localStorage). The code
 * itself is never stored. Shared by the disguises, the install page and the
 * quick exit (which, inside the installed disguise, goes back to it).
 * Locking forgets the outbox's receipts, never the messages still waiting.
 */
import { Outbox } from '../outbox.js'

const LOCK_KEY = 'app-lock'
const SHELL_KEY = 'app-shell'
const UNLOCKED_KEY = 'app-unlocked'
// Everything a disguise keeps for itself (the notes' text); never the outbox.
export const DISGUISE_DATA = ['app-notes']
const ITERATIONS = 210000
/** @type {Record<string, string>} */
export const DISGUISES = { calculator: '/calculator', notes: '/notes' }

/** @param {ArrayBuffer | Uint8Array} bytes */
function toBase64 (bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
}

/** @param {string} text */
function fromBase64 (text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
}

/**
 * @param {string} code
 * @param {Uint8Array<ArrayBuffer>} salt
 * @param {number} iterations
 */
async function derive (code, salt, iterations) {
  const material = await crypto.subtle.importKey(
    'raw', new TextEncoder().encode(code.normalize('NFC')), 'PBKDF2', false, ['deriveBits']
  )
  return crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, material, 256)
}

/** @param {'local' | 'session'} kind */
function storage (kind) {
  try {
    return kind === 'local' ? window.localStorage : window.sessionStorage
  } catch {
    return null
  }
}

export const Lock = {
  /** @returns {{v: number, disguise: string, salt: string, hash: string, iterations: number, idleMinutes: number, lang: string} | null} */
  read () {
    try {
      const value = JSON.parse(storage('local')?.getItem(LOCK_KEY) || 'null')
      return value && DISGUISES[value.disguise] ? value : null
    } catch {
      return null
    }
  },

  /**
   * @param {string} code
   * @param {string} disguise
   * @param {number} idleMinutes
   * @param {string} lang
   */
  async set (code, disguise, idleMinutes, lang) {
    const salt = crypto.getRandomValues(new Uint8Array(16))
    const hash = await derive(code, salt, ITERATIONS)
    const value = { v: 1, disguise, salt: toBase64(salt), hash: toBase64(hash), iterations: ITERATIONS, idleMinutes, lang }
    // Not storage('local'), which is null where storage is blocked: this
    // throws then, and the caller learns that nothing was kept.
    window.localStorage.setItem(LOCK_KEY, JSON.stringify(value))
  },

  /**
   * Whether ``code`` is the unlock code; false when none is set.
   * @param {string} code
   */
  async matches (code) {
    const lock = this.read()
    if (!lock || !code) return false
    const hash = new Uint8Array(await derive(code, fromBase64(lock.salt), lock.iterations))
    const expected = fromBase64(lock.hash)
    let difference = hash.length ^ expected.length
    for (let i = 0; i < hash.length; i += 1) difference |= hash[i] ^ (expected[i] || 0)
    return difference === 0
  },

  /** Forget the code and everything the disguises kept (the outbox stays). */
  reset () {
    const local = storage('local')
    local?.removeItem(LOCK_KEY)
    for (const key of DISGUISE_DATA) local?.removeItem(key)
    storage('session')?.removeItem(UNLOCKED_KEY)
  },

  disguiseUrl () {
    const lock = this.read()
    return lock ? DISGUISES[lock.disguise] : null
  },

  /** Opened as the installed disguise (its start address says so), in this window. */
  inShell () {
    return Boolean(this.read()) && (
      storage('session')?.getItem(SHELL_KEY) === '1' ||
      window.matchMedia('(display-mode: standalone)').matches
    )
  },

  enterShell () {
    storage('session')?.setItem(SHELL_KEY, '1')
  },

  unlocked () {
    return storage('session')?.getItem(UNLOCKED_KEY) === '1'
  },

  unlock () {
    storage('session')?.setItem(UNLOCKED_KEY, '1')
  },

  /**
   * Locks, and forgets every receipt: whoever opens the app after a lock or
   * a quick exit (which locks too) must not learn that a message was sent.
   */
  lockNow () {
    storage('session')?.removeItem(UNLOCKED_KEY)
    Outbox.forgetReceipts().catch(() => {
      // No IndexedDB here: then no receipt was ever kept either.
    })
  }
}

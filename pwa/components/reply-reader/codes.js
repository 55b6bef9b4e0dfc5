// @ts-check
/**
 * The reply channel's keys on the phone (docs/replies.md), exactly as
 * server/replies.py derives them; both are checked against
 * tests/vectors/replies.json. A 16-digit reply code and a salt give, by
 * PBKDF2-SHA256 and then HKDF-SHA256, an access token (shown to the server)
 * and a reply key (never shown to it in clear).
 */
import { fromBase64Url, pad, toBase64Url } from '../help-form/seal.js'

export const CODE_DIGITS = 16
export const CODE_MAX_TYPED = 64
export const ITERATIONS = 210000
const ACCESS_INFO = 'haven reply access v1'
const KEY_INFO = 'haven reply key v1'
// Spaces as String.prototype.trim() knows them, and what people type between groups.
const IGNORED = /^[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\-.\u2010-\u2014_/]$/u
const encoder = new TextEncoder()

/** 16 random decimal digits, each drawn uniformly (bytes of 250 and more are drawn again). */
export function makeCode () {
  let code = ''
  while (code.length < CODE_DIGITS) {
    for (const byte of crypto.getRandomValues(new Uint8Array(32))) {
      if (byte < 250 && code.length < CODE_DIGITS) code += String(byte % 10)
    }
  }
  return code
}

/** @param {string} code - 16 digits, shown as four groups of four */
export function formatCode (code) {
  return code.match(/.{1,4}/g)?.join(' ') ?? code
}

/**
 * The 16 ASCII digits of a typed code, or null. Spaces and separators are
 * dropped; a decimal digit of any script counts as its ASCII digit.
 * @param {unknown} typed
 * @returns {string | null}
 */
export function normalizeCode (typed) {
  if (typeof typed !== 'string' || typed.length > CODE_MAX_TYPED) return null
  let code = ''
  for (const char of typed) {
    if (IGNORED.test(char)) continue
    if (!/^\p{Nd}$/u.test(char)) return null
    code += String(digitValue(char))
  }
  return code.length === CODE_DIGITS ? code : null
}

/**
 * A decimal digit's value. Unicode encodes each script's digits as a run of
 * ten code points from zero to nine, and adjacent runs only as whole runs:
 * the distance to the start of the block of digits, modulo ten, is the value.
 * @param {string} char - one character of category Nd
 */
function digitValue (char) {
  const point = /** @type {number} */ (char.codePointAt(0))
  let start = point
  while (start > 0 && /^\p{Nd}$/u.test(String.fromCodePoint(start - 1))) start -= 1
  return (point - start) % 10
}

/**
 * @param {string} code - 16 ASCII digits
 * @param {Uint8Array<ArrayBuffer>} salt
 * @param {number} [iterations]
 * @returns {Promise<{token: Uint8Array<ArrayBuffer>, replyKey: Uint8Array<ArrayBuffer>}>}
 */
export async function derive (code, salt, iterations = ITERATIONS) {
  const subtle = crypto.subtle
  const material = await subtle.importKey('raw', encoder.encode(code), 'PBKDF2', false, ['deriveBits'])
  const master = await subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, material, 256)
  const ikm = await subtle.importKey('raw', master, 'HKDF', false, ['deriveBits'])
  /** @param {string} info */
  const expand = async (info) => new Uint8Array(await subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(info) }, ikm, 256
  ))
  return { token: await expand(ACCESS_INFO), replyKey: await expand(KEY_INFO) }
}

/** @param {Uint8Array<ArrayBuffer>} token */
export async function verifierOf (token) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', token))
}

/**
 * @param {string} reference
 * @param {string} sender - 'person' or 'centre'
 * @param {string} id
 */
function boxAad (reference, sender, id) {
  return encoder.encode(`haven/reply/v1|${reference}|${sender}|${id}`)
}

/** @param {Uint8Array<ArrayBuffer>} replyKey */
function aesKey (replyKey) {
  return crypto.subtle.importKey('raw', replyKey, 'AES-GCM', false, ['encrypt', 'decrypt'])
}

/**
 * A message encrypted under the reply key.
 * @param {Uint8Array<ArrayBuffer>} replyKey
 * @param {string} text
 * @param {string} reference
 * @param {string} sender
 */
export async function sealBox (replyKey, text, reference, sender) {
  const id = toBase64Url(crypto.getRandomValues(new Uint8Array(16)))
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const plaintext = pad(encoder.encode(JSON.stringify({ text })))
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: boxAad(reference, sender, id) }, await aesKey(replyKey), plaintext
  )
  return { v: 1, id, iv: toBase64Url(iv), ct: toBase64Url(ct) }
}

/**
 * The text of a message box; throws if it does not open.
 * @param {Uint8Array<ArrayBuffer>} replyKey
 * @param {{id: string, iv: string, ct: string}} box
 * @param {string} reference
 * @param {string} sender
 * @returns {Promise<string>}
 */
export async function openBox (replyKey, box, reference, sender) {
  const padded = new Uint8Array(await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: fromBase64Url(box.iv), additionalData: boxAad(reference, sender, box.id) },
    await aesKey(replyKey), fromBase64Url(box.ct)
  ))
  let end = padded.length
  while (end > 0 && padded[end - 1] === 0) end -= 1
  if (end === 0 || padded[end - 1] !== 0x80) throw new Error('bad padding')
  const { text } = JSON.parse(new TextDecoder().decode(padded.subarray(0, end - 1)))
  if (typeof text !== 'string') throw new Error('no text')
  return text
}

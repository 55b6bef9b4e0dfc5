// @ts-check
/**
 * Seals a help request on the phone, before it is stored anywhere
 * (docs/envelope.md): ephemeral ECDH P-256 with the inbox key, HKDF-SHA256,
 * AES-256-GCM over the padded plaintext, the routing fields as associated data.
 */

export const BUCKETS = [512, 1024, 2048, 4096, 8192, 16384, 32768]
const INFO = 'haven envelope v1'
const encoder = new TextEncoder()

/** @param {ArrayBuffer | Uint8Array} bytes */
export function toBase64Url (bytes) {
  let binary = ''
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** @param {string} text */
export function fromBase64Url (text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}

/**
 * 0x80 then zeros up to the smallest bucket that holds the text and the marker.
 * @param {Uint8Array} plaintext
 */
export function pad (plaintext) {
  const size = BUCKETS.find((bucket) => bucket > plaintext.length)
  if (!size) throw new RangeError('too long to seal')
  const padded = new Uint8Array(size)
  padded.set(plaintext)
  padded[plaintext.length] = 0x80
  return padded
}

/**
 * @param {{kid: string, raw: string}} inboxKey - the document of /api/inbox-key
 * @param {Uint8Array} plaintext
 * @param {string} centre
 * @param {string} lang
 */
export async function seal (inboxKey, plaintext, centre, lang) {
  const subtle = crypto.subtle
  const inboxRaw = fromBase64Url(inboxKey.raw)
  const recipient = await subtle.importKey('raw', inboxRaw, { name: 'ECDH', namedCurve: 'P-256' }, false, [])
  const ephemeral = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits'])
  const epk = new Uint8Array(await subtle.exportKey('raw', ephemeral.publicKey))
  const shared = await subtle.deriveBits({ name: 'ECDH', public: recipient }, ephemeral.privateKey, 256)
  const ikm = await subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey'])
  const salt = new Uint8Array(epk.length + inboxRaw.length)
  salt.set(epk)
  salt.set(inboxRaw, epk.length)
  const key = await subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt, info: encoder.encode(INFO) },
    ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt']
  )
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const ct = await subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(`haven/v1|${centre}|${lang}`) },
    key, pad(plaintext)
  )
  return { v: 1, kid: inboxKey.kid, epk: toBase64Url(epk), iv: toBase64Url(iv), ct: toBase64Url(ct) }
}

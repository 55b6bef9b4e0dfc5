// Checks pwa/components/reply-reader/codes.js against tests/vectors/replies.json,
// the vectors server/replies.py is checked against too (tests/test_replies.py
// runs this with node and reads the one line it prints).
import { readFileSync } from 'node:fs'
import { derive, formatCode, makeCode, normalizeCode, openBox, sealBox, verifierOf } from '../pwa/components/reply-reader/codes.js'
import { fromBase64Url, toBase64Url } from '../pwa/components/help-form/seal.js'

const vectors = JSON.parse(readFileSync(new URL('./vectors/replies.json', import.meta.url), 'utf8'))
const failures = []
const check = (ok, what) => { if (!ok) failures.push(what) }

for (const vector of vectors.derive) {
  const { token, replyKey } = await derive(vector.code, fromBase64Url(vector.salt), vector.iterations)
  check(toBase64Url(token) === vector.token, `token of ${vector.code}`)
  check(toBase64Url(replyKey) === vector.reply_key, `reply key of ${vector.code}`)
  check(toBase64Url(await verifierOf(token)) === vector.verifier, `verifier of ${vector.code}`)
}
for (const vector of vectors.boxes) {
  const key = fromBase64Url(vector.reply_key)
  check(await openBox(key, vector.box, vector.reference, vector.sender) === vector.text, `box ${vector.box.id}`)
  const other = vector.sender === 'person' ? 'centre' : 'person'
  check(await openBox(key, vector.box, vector.reference, other).then(() => false, () => true), `box ${vector.box.id} as ${other}`)
  const again = await sealBox(key, vector.text, vector.reference, vector.sender)
  check(await openBox(key, again, vector.reference, vector.sender) === vector.text, `sealed again ${vector.box.id}`)
}
for (const vector of vectors.codes) {
  check(normalizeCode(vector.typed) === vector.code, `normalized ${JSON.stringify(vector.typed)}`)
}
const made = makeCode()
check(/^[0-9]{16}$/.test(made) && normalizeCode(formatCode(made)) === made, 'a made code')
check(/^[0-9]{4}( [0-9]{4}){3}$/.test(formatCode(made)), 'a formatted code')
// A box sealed here, for the Python side to open.
const key = fromBase64Url(vectors.boxes[0].reply_key)
const box = await sealBox(key, 'Écrit sur le téléphone', 'HV-7K3P-Q9XD', 'person')
console.log(JSON.stringify({ failures, box }))

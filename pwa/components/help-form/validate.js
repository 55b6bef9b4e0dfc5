// @ts-check
/**
 * The help form's rules applied in the browser. The rules themselves are the
 * server's (server/validation.py), rendered into the form as JSON; this file
 * only interprets them, in the same way as validate() there.
 */

/**
 * The rules as the server renders them (server/validation.py, RULES).
 * @typedef {object} Rules
 * @property {Record<string, FieldRule> & {postcode: TextRule & {pattern: string}}} fields
 * @property {string} phone
 * @property {string} phoneSeparators
 * @property {string} email
 * @property {string} control
 * @property {string[]} numberChannels
 * @property {[number, number, string][]} postcodeCentres - low, high, centre
 */

/** @typedef {TextRule | ChoiceRule | FlagRule | ContactRule} FieldRule */

/**
 * @typedef {object} TextRule
 * @property {'text'} kind
 * @property {number} max
 * @property {boolean} [required]
 * @property {boolean} [multiline]
 * @property {string} [pattern]
 * @property {string} [message] - the error code when it fails
 */

/**
 * @typedef {object} ChoiceRule
 * @property {'choice'} kind
 * @property {string[]} choices
 * @property {boolean} [required]
 */

/**
 * @typedef {object} FlagRule
 * @property {'flag'} kind
 * @property {boolean} [required]
 * @property {string} [message]
 */

/**
 * @typedef {object} ContactRule
 * @property {'contact'} kind
 * @property {number} max
 * @property {{channel: string[]}} required_for
 */

/**
 * Trimmed string value of a field, or ''.
 * @param {Record<string, string>} form
 * @param {string} name
 */
function valueOf (form, name) {
  const value = form[name]
  return typeof value === 'string' ? value.trim() : ''
}

/** @param {string} value */
function length (value) {
  // Code points, as Python's len().
  return [...value].length
}

/**
 * @param {string} pattern
 * @param {string} value
 */
function fullMatch (pattern, value) {
  return new RegExp(pattern, 'u').test(value)
}

/**
 * @param {TextRule} rule
 * @param {string} value
 * @param {Rules} rules
 * @returns {string | null}
 */
function checkText (rule, value, rules) {
  if (rule.required && !value) return rule.message || 'required'
  if (!value) return null
  if (length(value) > rule.max) return 'too_long'
  const control = new RegExp(rules.control, 'u')
  if (control.test(value)) return 'control'
  if (!rule.multiline && /[\n\t]/.test(value)) return 'control'
  if (rule.pattern && !fullMatch(rule.pattern, value)) return rule.message || 'choice'
  return null
}

/**
 * @param {ContactRule} rule
 * @param {string} value
 * @param {string} channel
 * @param {Rules} rules
 * @returns {string | null}
 */
function checkContact (rule, value, channel, rules) {
  if (!rule.required_for.channel.includes(channel)) return null
  if (!value) return 'contact_required'
  if (length(value) > rule.max) return 'too_long'
  if (new RegExp(rules.control, 'u').test(value)) return 'control'
  if (channel === 'email') return fullMatch(rules.email, value) ? null : 'email'
  const digits = value.replace(new RegExp(rules.phoneSeparators, 'gu'), '')
  return fullMatch(rules.phone, digits) ? null : 'phone'
}

/**
 * The error code for one field, or null.
 * @param {Rules} rules
 * @param {Record<string, string>} form
 * @param {string} name
 * @returns {string | null}
 */
export function checkField (rules, form, name) {
  const rule = rules.fields[name]
  const value = valueOf(form, name)
  switch (rule.kind) {
    case 'choice':
      if (!value) return rule.required ? 'required' : null
      return rule.choices.includes(value) ? null : 'choice'
    case 'flag':
      if (!['', 'yes', 'on'].includes(value)) return 'choice'
      return rule.required && !value ? (rule.message || 'required') : null
    case 'contact':
      return checkContact(rule, value, valueOf(form, 'channel'), rules)
    default:
      return checkText(rule, value, rules)
  }
}

/**
 * Checks every field; returns { clean, errors } like the server's validate().
 * @param {Rules} rules
 * @param {Record<string, string>} form
 */
export function validate (rules, form) {
  /** @type {Record<string, string>} */
  const clean = {}
  /** @type {Record<string, string>} */
  const errors = {}
  for (const name of Object.keys(rules.fields)) {
    const error = checkField(rules, form, name)
    let value = valueOf(form, name)
    if (rules.fields[name].kind === 'flag') value = value ? 'yes' : ''
    if (error) errors[name] = error
    else if (value) clean[name] = value
  }
  if (clean.add_check !== 'yes') {
    for (const name of Object.keys(clean)) if (name.startsWith('q-')) delete clean[name]
  }
  if (clean.identify !== 'cover') delete clean.cover_name
  if (![...rules.numberChannels, 'email'].includes(clean.channel)) delete clean.contact
  return { clean, errors }
}

/**
 * The centre of a Belgian postcode's region, or null.
 * @param {Rules} rules
 * @param {string} postcode
 */
export function centreForPostcode (rules, postcode) {
  if (!fullMatch(rules.fields.postcode.pattern, postcode)) return null
  const number = Number(postcode)
  for (const [low, high, centre] of rules.postcodeCentres) {
    if (number >= low && number <= high) return centre
  }
  return null
}

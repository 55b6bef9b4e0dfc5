// @ts-check
/**
 * A working notes app; notes are kept only on this phone (localStorage).
 * Saving a note whose title is the unlock code opens the app instead, and
 * that note is not kept. "Erase all notes" also forgets the unlock code.
 */
import { Lock } from './lock.js'
import { ALIASES, NO_FALLBACK, TEXTS } from './notes-texts.js'
import { openApp, startShell } from './shell.js'

const NOTES_KEY = 'app-notes'

/** @typedef {{id: string, title: string, body: string, updated: number}} Note */

/**
 * Haven's code for a language tag, matched as server/i18n.py matches Accept-Language.
 * @param {string | null | undefined} tag
 * @returns {string | null}
 */
function supported (tag) {
  if (!tag) return null
  if (TEXTS[tag]) return tag
  const lowered = tag.toLowerCase()
  if (NO_FALLBACK.some((prefix) => lowered.startsWith(prefix))) return null
  const parts = lowered.split('-')
  for (let end = parts.length; end > 0; end--) {
    const prefix = parts.slice(0, end).join('-')
    const code = Object.keys(TEXTS).find((known) => known.toLowerCase() === prefix) || ALIASES[prefix]
    if (code) return code
  }
  return null
}

function language () {
  const lock = Lock.read()
  for (const tag of [lock && lock.lang, ...(navigator.languages || [navigator.language])]) {
    const code = supported(tag)
    if (code) return code
  }
  return 'en'
}

/** @returns {Note[]} */
function load () {
  try {
    const notes = JSON.parse(window.localStorage.getItem(NOTES_KEY) || '[]')
    return Array.isArray(notes) ? notes : []
  } catch {
    return []
  }
}

/** @param {Note[]} notes */
function store (notes) {
  window.localStorage.setItem(NOTES_KEY, JSON.stringify(notes))
}

class Notes {
  constructor () {
    this.lang = language()
    this.text = TEXTS[this.lang]
    this.$list = /** @type {HTMLElement} */ (document.querySelector('[data-list]'))
    this.$empty = /** @type {HTMLElement} */ (document.querySelector('[data-empty]'))
    this.$listView = /** @type {HTMLElement} */ (document.querySelector('[data-view="list"]'))
    this.$form = /** @type {HTMLFormElement & {elements: {title: HTMLInputElement, body: HTMLTextAreaElement}}} */ (document.querySelector('[data-view="edit"]'))
    /** @type {string | null} */
    this.editing = null
  }

  init () {
    document.documentElement.lang = this.lang
    document.documentElement.dir = this.text.dir
    for (const $item of /** @type {NodeListOf<Rendered>} */ (document.querySelectorAll('[data-text]'))) {
      $item.textContent = this.text[$item.dataset.text]
    }
    document.title = this.text.notes
    document.querySelector('[data-action="new"]')?.addEventListener('click', () => this.edit(null))
    document.querySelector('[data-action="back"]')?.addEventListener('click', () => this.list())
    document.querySelector('[data-action="delete"]')?.addEventListener('click', () => this.remove())
    document.querySelector('[data-action="erase"]')?.addEventListener('click', () => this.erase())
    this.$form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.save()
    })
    this.list()
  }

  list () {
    this.$form.hidden = true
    this.$listView.hidden = false
    const notes = load().sort((a, b) => b.updated - a.updated)
    this.$list.replaceChildren(...notes.map((note) => {
      const $item = document.createElement('li')
      const $button = document.createElement('button')
      $button.type = 'button'
      $button.className = 'notes__item'
      $button.textContent = note.title || this.text.untitled
      $button.addEventListener('click', () => this.edit(note.id))
      $item.append($button)
      return $item
    }))
    this.$empty.hidden = notes.length > 0
  }

  /** @param {string | null} id */
  edit (id) {
    const note = load().find((item) => item.id === id)
    this.editing = note ? note.id : null
    this.$form.elements.title.value = note ? note.title : ''
    this.$form.elements.body.value = note ? note.body : ''
    this.$listView.hidden = true
    this.$form.hidden = false
    this.$form.elements.title.focus()
  }

  async save () {
    const title = this.$form.elements.title.value.trim()
    const body = this.$form.elements.body.value
    if (title && Lock.read() && await Lock.matches(title)) {
      // The code opens the app; nothing of it is kept as a note.
      this.$form.reset()
      openApp()
      return
    }
    const notes = load()
    const now = Date.now()
    const existing = notes.find((item) => item.id === this.editing)
    if (existing) Object.assign(existing, { title, body, updated: now })
    else notes.push({ id: crypto.randomUUID(), title, body, updated: now })
    store(notes)
    this.list()
  }

  remove () {
    store(load().filter((item) => item.id !== this.editing))
    this.list()
  }

  erase () {
    if (!window.confirm(this.text.confirm)) return
    Lock.reset()
    window.localStorage.removeItem(NOTES_KEY)
    this.list()
  }
}

startShell()
new Notes().init()

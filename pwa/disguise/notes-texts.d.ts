// The module /static/disguise/notes-texts.js, which the server writes from
// _notes.texts.html in every language (server/assets.py, notes_texts).

/** The notes' words by language code, with the language's direction as `dir`. */
export const TEXTS: Record<string, Record<string, string>>
/** Language tags that stand for one of Haven's codes (server/i18n.py). */
export const ALIASES: Record<string, string>
/** Tag prefixes never matched to a neighbouring language (server/i18n.py). */
export const NO_FALLBACK: string[]

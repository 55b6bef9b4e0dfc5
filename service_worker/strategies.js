// @ts-check
// Small named strategies used by the listeners in sw.js. PRECACHE (injected
// by the server above this file) lists every stored file with its hash.
// The server joins this file, outbox.js and sw.js into /sw.js, one classic
// script; these are the names shared between them.
/* global PRECACHE */
/* exported cacheFirst, cacheLanguage, deleteOldCaches, isNeverCached, isPrecached */
/* exported pageFromCacheOrNetwork, sharedUrls, startPage, storeAll, wantedLanguages */

const CACHE_PREFIX = 'app-'
const CACHE_NAME = CACHE_PREFIX + PRECACHE.version
// Never stored, never answered from a cache: people's requests and the advisors' side.
const NEVER_CACHED = ['/api/', '/advisor/', '/healthz']

/**
 * @param {string} lang
 * @returns {string[]} the precached addresses of one language
 */
function languageUrls (lang) {
  return (PRECACHE.languages[lang] || []).map(([url]) => url)
}

function sharedUrls () {
  return PRECACHE.shared.map(([url]) => url)
}

/**
 * The language of an address such as /nl/p/3, if Haven has it.
 * @param {string | URL} url
 * @returns {string | null}
 */
function languageOf (url) {
  const first = new URL(url, self.location.origin).pathname.split('/')[1]
  return Object.prototype.hasOwnProperty.call(PRECACHE.languages, first) ? first : null
}

/** @param {object} message */
async function tellClients (message) {
  const clients = await self.clients.matchAll({ includeUncontrolled: true, type: 'window' })
  for (const client of clients) client.postMessage(message)
}

/**
 * Stores the given addresses in this version's cache, fetching past the HTTP
 * cache, and reports progress for `lang` to the open pages.
 * @param {string[]} urls
 * @param {string} [lang]
 */
async function storeAll (urls, lang) {
  const cache = await caches.open(CACHE_NAME)
  let done = 0
  await Promise.all(urls.map(async (url) => {
    if (!(await cache.match(url))) {
      const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' })
      if (!response.ok) throw new Error(`precache ${url}: ${response.status}`)
      await cache.put(url, response)
    }
    done += 1
    if (lang) tellClients({ type: 'progress', lang, done, total: urls.length })
  }))
}

/**
 * Caches a language's pages unless they are all there already.
 * @param {string} lang
 */
async function cacheLanguage (lang) {
  if (!PRECACHE.languages[lang]) return
  const cache = await caches.open(CACHE_NAME)
  const urls = languageUrls(lang)
  const present = await Promise.all(urls.map((url) => cache.match(url)))
  const fresh = present.some((response) => !response)
  if (fresh) await storeAll([...sharedUrls(), ...urls], lang)
  await tellClients({ type: 'cached', lang, fresh })
}

/** Languages worth storing at install: those of open pages and of older caches. */
async function wantedLanguages () {
  const wanted = new Set()
  const clients = await self.clients.matchAll({ includeUncontrolled: true, type: 'window' })
  for (const client of clients) {
    const lang = languageOf(client.url)
    if (lang) wanted.add(lang)
  }
  for (const name of await caches.keys()) {
    if (!name.startsWith(CACHE_PREFIX) || name === CACHE_NAME) continue
    for (const request of await (await caches.open(name)).keys()) {
      const lang = languageOf(request.url)
      if (lang) wanted.add(lang)
    }
  }
  return [...wanted]
}

async function deleteOldCaches () {
  for (const name of await caches.keys()) {
    if (name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME) await caches.delete(name)
  }
}

const PRECACHED = new Set([
  ...sharedUrls(),
  ...Object.keys(PRECACHE.languages).flatMap(languageUrls)
])

/** @param {URL} url */
function isPrecached (url) {
  return PRECACHED.has(url.pathname)
}

/** @param {URL} url */
function isNeverCached (url) {
  return NEVER_CACHED.some((prefix) => url.pathname.startsWith(prefix))
}

/**
 * Precached files: from the cache; a miss goes to the network.
 * @param {Request} request
 * @param {URL} url
 */
async function cacheFirst (request, url) {
  const cached = await caches.match(url.pathname, { cacheName: CACHE_NAME })
  return cached || fetch(request)
}

/**
 * Pages: the stored copy if there is one (it belongs to this version);
 * otherwise the network, and offline a neutral page in the right language.
 * @param {Request} request
 * @param {URL} url
 */
async function pageFromCacheOrNetwork (request, url) {
  const cached = await caches.match(url.pathname, { cacheName: CACHE_NAME })
  if (cached) return cached
  try {
    return await fetch(request)
  } catch {
    return (await offlinePage(url)) || Response.error()
  }
}

/**
 * "/" chooses a language on the server; offline, the first stored home page.
 * @param {Request} request
 */
async function startPage (request) {
  try {
    return await fetch(request)
  } catch {
    return (await offlinePage(new URL('/', self.location.origin))) || Response.error()
  }
}

/**
 * @param {URL} url
 * @returns {Promise<Response | null>}
 */
async function offlinePage (url) {
  const cache = await caches.open(CACHE_NAME)
  const preferred = languageOf(url)
  const candidates = preferred ? [preferred] : []
  for (const request of await cache.keys()) {
    const lang = languageOf(request.url)
    if (lang && !candidates.includes(lang)) candidates.push(lang)
  }
  for (const lang of candidates) {
    const path = url.pathname === '/' ? `/${lang}/` : `/${lang}/${PRECACHE.offline}`
    const page = await cache.match(path)
    if (page) return page
  }
  return null
}

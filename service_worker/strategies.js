// @ts-check
// Small named strategies used by the listeners in sw.js. PRECACHE (injected
// by the server above this file) lists every stored file with its hash.
// The server joins this file, outbox.js and sw.js into /sw.js, one classic
// script; these are the names shared between them.
//
// Every request the worker takes on ends in a deliberate answer: the stored
// copy, the network's, or one made up here (an empty 503 for a file, a
// neutral page for a page). Never a rejected respondWith, which Firefox
// reports as "A ServiceWorker intercepted the request and encountered an
// unexpected error", nor Response.error(), which WebKit shows as "Response
// served by service worker is an error": both leave the browser's own error
// page on screen, which the quick exit promises never to do.
/* global PRECACHE */
/* exported cacheFirst, cacheLanguage, deleteOldCaches, isNeverCached, isPrecached */
/* exported pageFromCacheOrNetwork, sharedUrls, startPage, storeAll, wantedLanguages */

const CACHE_PREFIX = 'app-'
const CACHE_NAME = CACHE_PREFIX + PRECACHE.version
// Never stored, never answered from a cache: people's requests and the advisors' side.
const NEVER_CACHED = ['/api/', '/advisor/', '/healthz']
// How often the made-up page tries again by itself, in seconds.
const RETRY_SECONDS = 15

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
  await renewIfEmptied()
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

/**
 * WebKit can empty a cache behind the worker's back and keep its name: in
 * WebKitGTK 2.50's ephemeral sessions, some seconds after the last page of
 * the app has gone (docs/webkit-emptied-cache/). Such a cache then takes
 * every put and keeps none; deleted and opened again, it works. Install
 * stores the shared files before this version answers anything, so a cache
 * of this version with nothing in it has been emptied: it is renewed, and
 * the page that asked for its language (every page load does) stores it again.
 */
async function renewIfEmptied () {
  if (!(await caches.has(CACHE_NAME))) return
  const cache = await caches.open(CACHE_NAME)
  if ((await cache.keys()).length === 0) await caches.delete(CACHE_NAME)
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
 * The stored copy of an address in this version's cache, if the browser lets us read it.
 * @param {URL} url
 * @returns {Promise<Response | undefined>}
 */
async function stored (url) {
  try {
    return await caches.match(url.pathname, { cacheName: CACHE_NAME })
  } catch {
    // Storage refused or broken: as if nothing were stored.
    return undefined
  }
}

/**
 * Precached files: from the cache; a miss goes to the network; offline, an empty 503.
 * @param {Request} request
 * @param {URL} url
 */
async function cacheFirst (request, url) {
  const cached = await stored(url)
  if (cached) return cached
  try {
    return await fetch(request)
  } catch {
    return new Response(null, { status: 503, statusText: 'Offline' })
  }
}

/**
 * Pages: the stored copy if there is one (it belongs to this version);
 * otherwise the network, and offline a neutral page in the right language.
 * @param {Request} request
 * @param {URL} url
 */
async function pageFromCacheOrNetwork (request, url) {
  const cached = await stored(url)
  if (cached) return cached
  try {
    return await fetch(request)
  } catch {
    return (await offlinePage(url)) || fallbackPage(url)
  }
}

/**
 * "/" chooses a language on the server; offline, the first stored home page.
 * @param {Request} request
 */
async function startPage (request) {
  const url = new URL(request.url)
  try {
    return await fetch(request)
  } catch {
    return (await offlinePage(url)) || fallbackPage(url)
  }
}

/**
 * @param {URL} url
 * @returns {Promise<Response | null>}
 */
async function offlinePage (url) {
  try {
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
  } catch {
    // Storage refused or broken: the page made up below.
  }
  return null
}

/**
 * A page with nothing stored and no connection (a browser that emptied the
 * cache): made up here, neutral, in the address's language (English for
 * "/"), and it tries again by itself, so that the app comes back, and is
 * stored again, as soon as a connection does.
 * @param {URL} url
 * @returns {Response}
 */
function fallbackPage (url) {
  const lang = languageOf(url) || 'en'
  const [heading, dir] = PRECACHE.fallback[lang]
  const text = heading.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)
  const html = '<!doctype html>' +
    `<html lang="${lang}" dir="${dir}"><meta charset="utf-8">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<meta http-equiv="refresh" content="${RETRY_SECONDS}">` +
    `<title>${text}</title><h1>${text}</h1></html>`
  return new Response(html, {
    status: 503,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': "default-src 'none'",
      'Cache-Control': 'no-store'
    }
  })
}

// @ts-check
// The service worker's event listeners. Strategies live in strategies.js;
// the outbox installs its own listeners (Outbox.listen). The server joins
// strategies.js, outbox.js and this file into /sw.js, one classic script, so
// the names below come from those files (tests/test_worker_scripts.py checks
// these lists against the code).
/* global cacheFirst, cacheLanguage, deleteOldCaches, isNeverCached, isPrecached */
/* global pageFromCacheOrNetwork, sharedUrls, startPage, storeAll, wantedLanguages */
/* global Outbox */

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const languages = await wantedLanguages()
    await storeAll(sharedUrls())
    for (const lang of languages) await cacheLanguage(lang)
  })())
})

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    await deleteOldCaches()
    // Take control of the page that installed us, so it works offline at once.
    await self.clients.claim()
  })())
})

self.addEventListener('message', (event) => {
  const message = event.data || {}
  if (message.type === 'skip-waiting') {
    self.skipWaiting()
  } else if (message.type === 'cache-language' && typeof message.lang === 'string') {
    event.waitUntil(cacheLanguage(message.lang))
  }
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin) return
  if (isPrecached(url) && request.mode !== 'navigate') {
    event.respondWith(cacheFirst(request, url))
    return
  }
  if (isNeverCached(url)) return
  if (url.pathname === '/') {
    event.respondWith(startPage(request))
  } else if (request.mode === 'navigate') {
    event.respondWith(pageFromCacheOrNetwork(request, url))
  }
  // Anything else is a file this version never stores (the installed-app
  // icons the browser fetches itself, addresses that do not exist): it is
  // left to the browser, since the worker could only pass it on. Firefox
  // fetches such an icon after each page load and drops it when the page
  // moves on; dropped while the worker held it, it was reported as "A
  // ServiceWorker intercepted the request and encountered an unexpected error".
})

// The outbox's sync, its forgetting on an exit's message, and its delivery
// at every worker start.
Outbox.listen(self)

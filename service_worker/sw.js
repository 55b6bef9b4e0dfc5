// The service worker's event listeners. Strategies live in strategies.js,
// the outbox in outbox.js.

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
  } else if (message.type === 'forget-receipts') {
    // Sent by a quick exit or a lock: the page that sent it may already be
    // gone, so the worker, which outlives it, does the forgetting too.
    event.waitUntil(Outbox.clearReceipts())
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
  } else {
    event.respondWith(cacheFirst(request, url))
  }
})

// Background Sync: the browser wakes the worker when a connection returns.
self.addEventListener('sync', (event) => {
  if (event.tag === SYNC_TAG) {
    event.waitUntil(Outbox.flush().then(({ retry }) => {
      // A failure tells the browser to try this sync again later.
      if (retry) throw new Error('outbox: still waiting')
    }))
  }
})

// Browsers without Background Sync: every time the worker starts, deliver
// what is due (it starts for any page load or navigation).
Outbox.flush().catch(() => {})

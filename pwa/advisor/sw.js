// @ts-check
/**
 * The advisors' service worker (scope /advisor/). It shows notifications and
 * opens the inbox when one is tapped. It caches nothing and answers no fetch:
 * the dashboard is always read fresh from the server.
 */

/** @type {Record<string, {title: string, body: string}>} */
const TEXTS = {
  en: { title: 'Haven', body: 'Something new is waiting in the inbox.' },
  nl: { title: 'Haven', body: 'Er wacht iets nieuws in de inbox.' },
  fr: { title: 'Haven', body: 'Du nouveau attend dans la boîte de réception.' }
}

function texts () {
  const language = (self.navigator.language || 'en').slice(0, 2)
  return TEXTS[language] || TEXTS.en
}

self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

self.addEventListener('push', (event) => {
  let centre = ''
  try {
    centre = String((event.data && event.data.json().centre) || '')
  } catch {
    // Data that is not JSON: the notification names no centre.
  }
  const { title, body } = texts()
  event.waitUntil(self.registration.showNotification(title, {
    body,
    tag: `inbox-${centre}`,
    renotify: true,
    data: { url: '/advisor/' }
  }))
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
    for (const client of windows) {
      if (new URL(client.url).pathname.startsWith('/advisor/')) {
        await client.navigate('/advisor/')
        return client.focus()
      }
    }
    return self.clients.openWindow('/advisor/')
  })())
})

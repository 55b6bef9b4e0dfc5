// What TypeScript's WebWorker library leaves out for Haven's service workers
// (this folder's scripts and pwa/advisor/sw.js).

// The library declares `self` as any worker's scope; in these scripts it is
// a service worker's, with its clients, its registration and its events.
interface WorkerGlobalScope {
  readonly clients: Clients
  readonly registration: ServiceWorkerRegistration
  skipWaiting(): Promise<void>
  addEventListener<K extends keyof ServiceWorkerGlobalScopeEventMap>(
    type: K,
    listener: (this: ServiceWorkerGlobalScope, event: ServiceWorkerGlobalScopeEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions
  ): void
}

// Background Sync, which not every browser has (hence `sync` may be absent).
interface SyncManager {
  register(tag: string): Promise<void>
}

interface ServiceWorkerRegistration {
  readonly sync?: SyncManager
}

interface SyncEvent extends ExtendableEvent {
  readonly tag: string
}

interface ServiceWorkerGlobalScopeEventMap {
  sync: SyncEvent
}

// Sound and vibrate again for a notification that replaces one with the
// same tag (Chromium's; others ignore it), left out of the library.
interface NotificationOptions {
  renotify?: boolean
}

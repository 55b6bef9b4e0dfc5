// The names the worker's scripts take from outside them.

/** Written by the server above the scripts in /sw.js (server/assets.py, precache_list). */
declare const PRECACHE: {
  version: string
  shared: [url: string, hash: string][]
  languages: Record<string, [url: string, hash: string][]>
  offline: string
  /** Per language, the heading and direction of the page the worker makes up with nothing stored. */
  fallback: Record<string, [heading: string, dir: string]>
}

// outbox.js also runs in the pages, where it keeps a mark in localStorage;
// in the worker, which has none, every use of it is guarded.
interface Storage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}
declare var localStorage: Storage

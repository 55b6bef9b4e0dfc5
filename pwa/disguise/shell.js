// @ts-check
/**
 * What both disguises do on start: note that this window is the installed
 * disguise (its start address carries ?app=1), finish forgetting the
 * receipts if the exit that led here could not, and make sure the service
 * worker is there, so the disguise and the app behind it work offline.
 */
import { Outbox } from '../outbox.js'
import { Lock } from './lock.js'

export function startShell () {
  if (new URLSearchParams(window.location.search).get('app') === '1') Lock.enterShell()
  // The exit and the lock land here: this page stays, so it can finish the job.
  Outbox.finishForgetting().catch(() => {})
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {})
  }
}

/** Open the app behind the disguise, in the language chosen at set-up. */
export function openApp () {
  const lock = Lock.read()
  Lock.unlock()
  window.location.replace(`/${(lock && lock.lang) || 'en'}/`)
}

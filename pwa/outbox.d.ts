// The module /static/outbox.js that the pages import: the worker's classic
// script service_worker/outbox.js, which the server serves with an export
// line added (server/assets.py, OUTBOX_EXPORTS). Its types are read from that
// script, included beside this file in tsconfig.json.

declare const outbox: typeof Outbox
declare const outboxDb: typeof OUTBOX_DB
declare const outboxChannel: typeof OUTBOX_CHANNEL
declare const syncTag: typeof SYNC_TAG
declare const flushLock: typeof FLUSH_LOCK

export {
  outbox as Outbox,
  outboxDb as OUTBOX_DB,
  outboxChannel as OUTBOX_CHANNEL,
  syncTag as SYNC_TAG,
  flushLock as FLUSH_LOCK
}

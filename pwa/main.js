// @ts-check
// Starts every component found on the page. Each starts in its own try/catch
// so that one failure never stops the others (or the quick exit).
import { QuickExit } from './components/quick-exit/quick-exit.js'
import { SelfCheck } from './components/self-check/self-check.js'
import { AppStatus } from './components/app-status/app-status.js'
import { HelpForm } from './components/help-form/help-form.js'
import { OutboxStatus } from './components/outbox-status/outbox-status.js'
import { AppNavigation } from './components/app-navigation/app-navigation.js'
import { InstallSetup } from './components/install-setup/install-setup.js'

/** @type {ComponentClass[]} */
const components = [QuickExit, AppNavigation, SelfCheck, AppStatus, OutboxStatus, HelpForm, InstallSetup]
// The page's language's strings, from /<lang>/t.js (a deferred script that has
// run before this module); each component finds its own in its dataset.
const texts = window.HAVEN_TEXTS || {}

for (const Component of components) {
  for (const $root of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(`[data-module="${Component.moduleName}"]`))) {
    try {
      Object.assign($root.dataset, texts[Component.moduleName] || {})
      new Component($root).init()
    } catch (error) {
      console.error(Component.moduleName, error)
    }
  }
}

// Starts every component found on the page. Each starts in its own try/catch
// so that one failure never stops the others (or the quick exit).
import { QuickExit } from './components/quick-exit/quick-exit.js'
import { SelfCheck } from './components/self-check/self-check.js'
import { AppStatus } from './components/app-status/app-status.js'
import { HelpForm } from './components/help-form/help-form.js'
import { OutboxStatus } from './components/outbox-status/outbox-status.js'
import { AppNavigation } from './components/app-navigation/app-navigation.js'
import { InstallSetup } from './components/install-setup/install-setup.js'

const components = [QuickExit, AppNavigation, SelfCheck, AppStatus, OutboxStatus, HelpForm, InstallSetup]

for (const Component of components) {
  for (const $root of document.querySelectorAll(`[data-module="${Component.moduleName}"]`)) {
    try {
      new Component($root).init()
    } catch (error) {
      console.error(Component.moduleName, error)
    }
  }
}

// ESLint for the browser code: `npx eslint .` (tests/test_lint.py runs it).
// Two kinds of file, each with the globals it really has: the pages' ES
// modules, and the service workers' classic scripts. The three scripts joined
// into /sw.js take each other's names through their /* global */ headers.
import js from '@eslint/js'
import globals from 'globals'

const rules = {
  'no-unused-vars': 'error',
  'no-undef': 'error'
}

export default [
  // Only the project's own files: not the installed packages, nor what the tests leave.
  { ignores: ['node_modules/', '.venv/', 'data/', 'build/', 'dist/', 'tests/artifacts/'] },
  js.configs.recommended,
  {
    // Node's modules: this file, and the runner of the shared reply vectors.
    files: ['eslint.config.js', 'tests/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
    rules
  },
  {
    files: ['pwa/**/*.js'],
    ignores: ['pwa/advisor/sw.js'],
    languageOptions: { sourceType: 'module', globals: globals.browser },
    rules
  },
  {
    files: ['service_worker/*.js', 'pwa/advisor/sw.js'],
    languageOptions: { sourceType: 'script', globals: globals.serviceworker },
    rules
  },
  {
    // The outbox also runs in the pages (/static/outbox.js), where it keeps a
    // mark in localStorage; in the worker every use of it is guarded.
    files: ['service_worker/outbox.js'],
    languageOptions: { globals: { localStorage: 'readonly' } }
  }
]

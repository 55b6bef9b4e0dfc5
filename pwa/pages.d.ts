// What the pages' scripts find on the page that the DOM library cannot know.

interface Window {
  /** The components' strings in the page's language, by component: /<lang>/t.js. */
  HAVEN_TEXTS?: Record<string, Record<string, string>>
}

/** What main.js starts: a class named by its root's data-module. */
interface ComponentClass {
  moduleName: string
  // The element its template marks with data-module; each class says which
  // kind of element that is, which main.js cannot know.
  new ($root: any): { init(): void }
}

/**
 * An element as the server renders it: every data-* attribute the script
 * reads is there (on a component's root, the strings of /<lang>/t.js too).
 */
type Rendered<E extends HTMLElement = HTMLElement> = E & { dataset: Record<string, string> }

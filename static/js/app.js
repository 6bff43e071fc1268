// Progressive enhancement for GOV.UK Frontend and MOJ Frontend components.
//
// Loaded with <script type="module">, so it runs after the page is parsed and only
// in browsers that can run the ES module builds of both libraries. Every page works
// without it: it only adds behaviour (menu toggle, error summary focus, sortable
// tables, filters) on top of plain HTML.
//
// The GOV.UK page template sets the body classes with an inline script; our content
// security policy forbids inline scripts, so it happens here instead.
import { initAll as initGovukFrontend } from '../vendor/govuk/govuk-frontend.min.js'
import { initAll as initMojFrontend } from '../vendor/moj/moj-frontend.min.js'

// govuk-frontend-supported: GOV.UK Frontend (v5+) and MOJ Frontend components check
// it before they initialise. js-enabled: MOJ Frontend's style sheet still keys on it.
document.body.classList.add('js-enabled', 'govuk-frontend-supported')

initGovukFrontend()
initMojFrontend()

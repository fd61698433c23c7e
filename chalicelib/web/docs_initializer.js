// Starts Swagger UI on the reference page (served as docs/swagger-initializer.js; no inline script, so the page's
// Content-Security-Policy can forbid them). The document's URL comes from the page, relative to it.
"use strict";

window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: new URL(root.dataset.url, document.baseURI).href,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    displayRequestDuration: true,
    // No call to validator.swagger.io, no document or config taken from the page's query string, and the token
    // given to "Authorize" kept in memory only (not in localStorage).
    validatorUrl: null,
    queryConfigEnabled: false,
    persistAuthorization: false,
  });
});

// Starts Swagger UI on the API's docs page (/api/v1/docs, templates/api/swagger_ui.html) from a
// file, so that the page runs under a Content-Security-Policy without inline script.
(function () {
  "use strict";
  window.addEventListener("load", function () {
    const container = document.getElementById("swagger-ui-container");
    window.ui = SwaggerUIBundle({
      url: container.dataset.specUrl,
      dom_id: "#swagger-ui-container",
      validatorUrl: null, // no badge fetched from validator.swagger.io
    });
  });
})();

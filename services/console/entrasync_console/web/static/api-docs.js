// The /docs page: Swagger UI over the console's OpenAPI document, from the console's own files.
// "Try it out" runs with the session cookie; a state-changing call also needs the CSRF header.
"use strict";

(() => {
  const target = document.getElementById("swagger-ui");
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  window.SwaggerUIBundle({
    url: target.dataset.openapi,
    domNode: target,
    deepLinking: true,
    validatorUrl: null, // else Swagger UI asks a public validator about the document
    requestInterceptor: (request) => {
      if (!/^(GET|HEAD|OPTIONS)$/i.test(request.method || "GET")) request.headers["X-CSRF-Token"] = csrf;
      return request;
    },
  });
})();

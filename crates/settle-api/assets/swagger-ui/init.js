// Settle's API reference: Swagger UI on this server's /openapi.json. No validator badge (it would call a public
// service), deep links on, "Try it out" sends requests to this server with the token given under "Authorize".
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    validatorUrl: null,
    persistAuthorization: false,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
  });
});

// The API reference: Swagger UI drawn from the server's own openapi.json (no inline script, no CDN).
window.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("api-docs");
  window.SwaggerUIBundle({
    url: box.getAttribute("data-spec"),
    domNode: box,
    deepLinking: true,
    // "Try it out" sends the session cookie; state changes need the session's CSRF token, which this page
    // does not hold, so use a token (Authorize) for those.
    withCredentials: true
  });
});

// livegate GraphQL explorer: starts GraphiQL (loaded before this file as window.GraphiQL).
// A file rather than an inline script so the page runs under a CSP without 'unsafe-inline' scripts.
(function () {
  "use strict";

  var root = document.getElementById("graphiql");
  var graphqlPath = root.getAttribute("data-graphql-path") || "/graphql";

  var DEFAULT_QUERY = [
    "# livegate GraphQL explorer",
    "#",
    "# 1. Get an access token: POST /oauth/token",
    "#    (OAuth 2.0 client credentials).",
    "# 2. Paste it into the Headers tab below:",
    '#      {"Authorization": "Bearer <token>"}',
    "#    then re-fetch the schema (circular arrow,",
    "#    bottom left).",
    "# 3. Run with Ctrl-Enter or the play button.",
    "#",
    "# Requests are JSON POSTs to " + graphqlPath + ".",
    "# Headers never go into the URL; no cookies are sent.",
    "",
    "query {",
    "  __typename",
    "}",
    "",
  ].join("\n");

  function isSubscription(params, documentAST) {
    if (!documentAST || !documentAST.definitions) return false;
    var operations = documentAST.definitions.filter(function (node) {
      return node.kind === "OperationDefinition";
    });
    var chosen = operations.filter(function (node) {
      return !params.operationName || (node.name && node.name.value === params.operationName);
    })[0];
    return Boolean(chosen && chosen.operation === "subscription");
  }

  function errorResult(message) {
    return { errors: [{ message: message }] };
  }

  // GraphiQL passes the parsed header-editor JSON as options.headers. They go into request headers
  // only; the query, variables and headers are never copied into the page URL.
  function fetcher(params, options) {
    if (isSubscription(params, options && options.documentAST)) {
      return Promise.resolve(errorResult("Subscriptions are not available in this explorer."));
    }
    var headers;
    try {
      headers = new Headers((options && options.headers) || {});
    } catch (error) {
      return Promise.resolve(errorResult("Invalid header: " + error.message));
    }
    headers.set("Content-Type", "application/json");
    headers.set("Accept", "application/graphql-response+json, application/json");
    return fetch(graphqlPath, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "omit", // bearer tokens only: never send or store cookies
      cache: "no-store",
      referrerPolicy: "no-referrer",
    }).then(function (response) {
      return response.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (error) {
          return errorResult("HTTP " + response.status + ": " + text.slice(0, 500));
        }
      });
    });
  }

  // sessionStorage instead of GraphiQL's default localStorage: variables may hold personal data, and
  // they should not outlive the browser tab on a shared machine.
  var props = {
    fetcher: fetcher,
    defaultQuery: DEFAULT_QUERY,
    defaultEditorToolsVisibility: "headers",
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    storage: window.sessionStorage,
    inputValueDeprecation: true,
  };

  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();

// Bootstrap for the embedded GraphiQL page (vbo-gateway, resolvers/graphiql).
// Loaded as an external script so the page's Content-Security-Policy can use
// script-src 'self' without 'unsafe-inline'. Settings come from the
// <script type="application/json" id="graphiql-config"> data block, which the
// Go handler renders with html/template (JSON, HTML-safe escaped).
(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  try {
    var cfgEl = document.getElementById('graphiql-config');
    var cfg = JSON.parse((cfgEl && cfgEl.textContent) || '{}');
    var props = {
      fetcher: GraphiQL.createFetcher({ url: cfg.endpoint }),
      // Headers typed in the headers editor are sent with every request.
      isHeadersEditorEnabled: true,
      // Do not persist (possibly secret) headers to localStorage.
      shouldPersistHeaders: false,
      // Open the documentation explorer on load.
      visiblePlugin: GraphiQL.React.DOC_EXPLORER_PLUGIN
    };
    if (cfg.defaultQuery) {
      props.defaultQuery = cfg.defaultQuery;
    }
    if (cfg.defaultHeaders) {
      props.defaultHeaders = cfg.defaultHeaders;
      props.defaultEditorToolsVisibility = 'headers';
    }
    ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
  } catch (err) {
    root.textContent = 'Failed to start GraphiQL: ' + err;
    throw err;
  }
})();

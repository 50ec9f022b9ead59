// Bootstrap for the embedded GraphiQL page (vbo-gateway, resolvers/graphiql).
// Loaded as an external script so the page's Content-Security-Policy can use
// script-src 'self' without 'unsafe-inline'. Settings come from the
// <script type="application/json" id="graphiql-config"> data block, which the
// Go handler renders with html/template (JSON, HTML-safe escaped).
(function () {
  'use strict';
  var root = document.getElementById('graphiql');

  // isSubscription reports whether the operation to run is a subscription.
  function isSubscription(params) {
    var text = (params.query || '').replace(/#[^\n]*/g, '');
    var re = /(?:^|[}\s])(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g;
    var m;
    while ((m = re.exec(text)) !== null) {
      if (!params.operationName || m[2] === params.operationName) {
        return m[1] === 'subscription';
      }
    }
    return false;
  }

  // sseFetcher runs subscriptions over graphql-sse (POST, Accept: text/event-stream) and
  // everything else with GraphiQL's own fetcher. Headers from the headers editor go along.
  function sseFetcher(endpoint, httpFetcher) {
    return function (params, opts) {
      if (!isSubscription(params)) {
        return httpFetcher(params, opts);
      }
      var headers = Object.assign({ 'Content-Type': 'application/json', 'Accept': 'text/event-stream' },
        (opts && opts.headers) || {});
      return (async function* () {
        var resp = await fetch(endpoint, { method: 'POST', headers: headers, body: JSON.stringify(params) });
        if ((resp.headers.get('Content-Type') || '').indexOf('text/event-stream') !== 0) {
          yield await resp.json();
          return;
        }
        var reader = resp.body.getReader();
        var decoder = new TextDecoder();
        var buf = '';
        for (;;) {
          var chunk = await reader.read();
          if (chunk.done) {
            return;
          }
          buf += decoder.decode(chunk.value, { stream: true });
          var end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            var block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            var event = '';
            var data = '';
            block.split('\n').forEach(function (line) {
              if (line.indexOf('event:') === 0) {
                event = line.slice(6).trim();
              } else if (line.indexOf('data:') === 0) {
                data += line.slice(5).trim();
              }
            });
            if (event === 'complete') {
              return;
            }
            if (event === 'next' && data) {
              yield JSON.parse(data);
            }
          }
        }
      })();
    };
  }

  try {
    var cfgEl = document.getElementById('graphiql-config');
    var cfg = JSON.parse((cfgEl && cfgEl.textContent) || '{}');
    var props = {
      fetcher: sseFetcher(cfg.endpoint, GraphiQL.createFetcher({ url: cfg.endpoint })),
      // Headers typed in the headers editor are sent with every request.
      isHeadersEditorEnabled: true,
      // Do not persist (possibly secret) headers to localStorage.
      shouldPersistHeaders: false
      // The documentation explorer stays closed: the editor gets the room (the docs
      // button opens it).
    };
    if (cfg.defaultQuery) {
      props.defaultQuery = cfg.defaultQuery;
    }
    if (cfg.tabs && cfg.tabs.length) {
      // Named example operations, one per tab (after the default query's, if any; the first
      // is active), each with its own headers or the default ones.
      var tabs = cfg.defaultQuery ? [{ query: cfg.defaultQuery }] : [];
      props.defaultTabs = tabs.concat(cfg.tabs).map(function (t) {
        return { query: t.query, variables: t.variables || undefined, headers: t.headers || cfg.defaultHeaders || undefined };
      });
      props.defaultQuery = props.defaultTabs[0].query;
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

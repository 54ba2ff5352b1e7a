// Starts GraphiQL with the server's configuration (infra/http/graphiql.py): the endpoint,
// the default query and, in development, the Headers tab with a token already in it. Given
// as GraphiQL's `headers`, the token is also what its first request, the schema's
// introspection, is sent with.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("graphiql-config").textContent);
  const fetcher = GraphiQL.createFetcher({ url: config.url });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  const props = {
    fetcher: fetcher,
    defaultQuery: config.defaultQuery,
    plugins: [explorer],
    defaultEditorToolsVisibility: config.headers ? "headers" : true,
    isHeadersEditorEnabled: true,
    // A pasted token stays out of localStorage unless the user turns persistence on.
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
  };
  if (config.headers) {
    props.headers = config.headers;
  }
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();

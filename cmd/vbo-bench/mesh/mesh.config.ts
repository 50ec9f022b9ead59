// GraphQL Mesh compose config for cmd/vbo-bench: one OpenAPI source, the trimmed Veeam VB365
// v6 document the simulator is validated against. VBO_URL and VBO_TOKEN are placeholders at
// compose time; vbo-bench substitutes the simulator's URL and a token per run.
import { defineConfig } from '@graphql-mesh/compose-cli'
import { loadOpenAPISubgraph } from '@omnigraph/openapi'

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('VBO', {
        source: '../../../testdata/openapi/vb365_rest_v6.trimmed.json',
        endpoint: process.env.VBO_URL || 'http://127.0.0.1:4443',
        operationHeaders: { Authorization: 'Bearer ' + (process.env.VBO_TOKEN || '') },
      }),
    },
  ],
})

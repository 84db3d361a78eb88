import type { PluginDefinition } from 'ati-proxy/plugin';

/** `[provider]` fields of handler = "graphql" (beside the common ones). */
export interface GraphqlProviderFields {
  endpoint: string;
  timeout_seconds?: number;
  max_response_bytes?: number;
}

/** `[[tools]]` fields of handler = "graphql" (beside the common ones). */
export interface GraphqlToolFields {
  query: string;
  operation_name?: string;
  variables?: Record<string, string>;
}

/** The plugin's version (also in package.json). */
export declare const VERSION: string;
/** handler = "graphql" */
declare const graphqlPlugin: PluginDefinition<GraphqlProviderFields, GraphqlToolFields>;
export default graphqlPlugin;

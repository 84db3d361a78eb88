import type { PluginDefinition } from 'ati-proxy/plugin';

/** The plugin's version (also in package.json). */
export declare const VERSION: string;
/** handler = "graphql" */
declare const graphqlPlugin: PluginDefinition;
export default graphqlPlugin;
